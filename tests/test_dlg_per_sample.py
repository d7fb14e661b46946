"""The paper's batched DLG (attacks/dlg_per_sample.py): one sample of the dummy batch per outer step."""

import copy

import pytest
import torch

from sharegrad.attacks import Target, run_attack
from sharegrad.attacks.base import victim_gradients
from sharegrad.errors import UserError
from sharegrad.models import build_model


def lenet_target(embedded, indices, seed=3):
    truth, label = embedded.tensor(indices)
    model = build_model("lenet", num_classes=100, seed=seed)
    shared = victim_gradients(model, truth, label, 100)
    return model, Target(shared_gradients=shared, input_shape=tuple(truth.shape), num_classes=100), label


@pytest.mark.parametrize("line_search,labels", [("strong_wolfe", "joint"), ("none", "joint"), ("strong_wolfe", "idlg")])
def test_batch_size_one_is_the_joint_attack_bit_for_bit(embedded, line_search, labels):
    model, target, _ = lenet_target(embedded, [4])
    config = {"iterations": 6, "line_search": line_search, "labels": labels, "snapshot_every": 2}
    joint = run_attack("dlg", model, target, config, seed=7)
    per_sample = run_attack("dlg_per_sample", model, target, config, seed=7)
    assert joint.loss_curve == per_sample.loss_curve and joint.evaluations == per_sample.evaluations
    assert torch.equal(joint.reconstruction, per_sample.reconstruction)
    assert torch.equal(joint.labels, per_sample.labels)
    assert joint.snapshots.keys() == per_sample.snapshots.keys()
    assert all(torch.equal(joint.snapshots[k], per_sample.snapshots[k]) for k in joint.snapshots)


@pytest.mark.parametrize("window", [1, 2])
def test_each_outer_step_moves_only_the_current_sample(embedded, window):
    model, target, _ = lenet_target(embedded, [0, 1, 2])
    seen = {}
    run_attack("dlg_per_sample", model, target, {"iterations": 7, "line_search": "strong_wolfe", "window": window},
               seed=1, observer=lambda step, image: seen.__setitem__(step, image.clone()))
    assert sorted(seen) == list(range(8))
    for step in range(1, 8):
        moved = [i for i in range(3) if not torch.equal(seen[step][i], seen[step - 1][i])]
        assert moved == [((step - 1) // window) % 3], (step, moved)


def test_it_starts_where_the_joint_attack_starts_and_then_differs(embedded):
    model, target, _ = lenet_target(embedded, [0, 1])
    joint = run_attack("dlg", model, target, {"iterations": 3, "line_search": "strong_wolfe"}, seed=2)
    per_sample = run_attack("dlg_per_sample", model, target, {"iterations": 3, "line_search": "strong_wolfe"}, seed=2)
    assert torch.equal(joint.snapshots[0], per_sample.snapshots[0])
    assert joint.loss_curve[0] == per_sample.loss_curve[0]
    assert not torch.equal(joint.reconstruction, per_sample.reconstruction)


class Interrupted(Exception):
    pass


class CheckpointOnce:
    """Saves the attack's state at one outer step and stops it there, as a killed job would."""

    def __init__(self, at: int):
        self.at, self.saved = at, None

    def load(self):
        return copy.deepcopy(self.saved)

    def maybe_save(self, step, state):
        if step == self.at and self.saved is None:
            self.saved = copy.deepcopy(state())
            raise Interrupted


@pytest.mark.parametrize("labels", ["joint", "multiset"])
def test_resumed_attack_equals_the_uninterrupted_one(embedded, labels):
    model, target, _ = lenet_target(embedded, [5, 6])
    config = {"iterations": 8, "line_search": "strong_wolfe", "labels": labels}
    straight = run_attack("dlg_per_sample", model, target, config, seed=4)
    checkpoint = CheckpointOnce(at=5)  # the second sample's L-BFGS has history, the first's is mid-cycle
    with pytest.raises(Interrupted):
        run_attack("dlg_per_sample", model, target, config, seed=4, checkpoint=checkpoint)
    assert len(checkpoint.saved["optimizers"]) == 2
    resumed = run_attack("dlg_per_sample", model, target, config, seed=4, checkpoint=checkpoint)
    assert resumed.loss_curve == straight.loss_curve and resumed.evaluations == straight.evaluations
    assert torch.equal(resumed.reconstruction, straight.reconstruction)
    assert torch.equal(resumed.labels, straight.labels)


def test_bad_window_and_unknown_setting_are_named():
    from sharegrad.attacks.dlg_per_sample import resolve

    with pytest.raises(UserError, match="window"):
        resolve({"window": 0})
    with pytest.raises(UserError, match="unknown dlg_per_sample setting.*'windw'"):
        resolve({"windw": 2})
    assert resolve({})["window"] == 1
