"""Gradient-inversion attacks, one file each, behind one interface.

An attack is a function registered under a name::

    @register_attack("dlg")
    def dlg(model, target: Target, config: dict, *, seed: int, observer=None) -> AttackResult

``target`` is everything the attacker sees (the shared gradients, the input
shape, the number of classes, optionally labels it recovered beforehand);
``config`` holds the attack's own settings; ``observer(step, dummy_input)``
lets the caller score progress against ground truth the attacker never sees.
"""

from sharegrad.attacks.base import AttackResult, Target, register_attack, run_attack, ATTACKS

__all__ = ["ATTACKS", "AttackResult", "Target", "register_attack", "run_attack"]
