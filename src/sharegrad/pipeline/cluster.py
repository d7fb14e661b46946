"""Which rules want a GPU, which run where: decided by rule name, so new rules need no profile edit.

workflow/rules/cluster.smk applies this to every rule after all rule files are
read; the profiles only carry site numbers (GPUs on the box, partition, job
count). A rule's class comes from the first pattern its name matches:

- ``light``: aggregation, figures, tables, data preparation and downloads, the
  report. They run on the machine that runs Snakemake (``localrules``): they
  take seconds, and on a cluster the compute nodes often have no internet for
  the downloads.
- ``gpu``: attacks and training. They get ``gpu=1`` (or ``gpu=<ranks>`` for a
  multi-rank training rule that declares a ``ranks`` resource) unless the
  config's device is ``cpu``. The SLURM executor turns ``gpu`` into
  ``--gpus``, the workstation profile caps the sum with ``resources: gpu=N``.
- ``cpu``: everything else; the profile's default resources apply.

A new rule gets its resources by its name: call an attack ``<area>_attack`` and
a trainer ``<area>_train`` (or any name in GPU_PATTERNS); an aggregation
``<area>_aggregate``, a figure ``figure_<name>``. Resources a rule sets itself
win over the class, and the profile's ``set-resources`` win over both.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

# Checked in order: light first, so ``dlg_aggregate`` or ``figure_train_curves``
# never ask for a GPU although they name an attack or training.
LIGHT_PATTERNS = [
    "all", "*aggregate*", "aggregate*", "figure*", "table*", "*report*", "*summary*",
    # Data preparation and downloads.
    "data_*", "*_data", "embedded_images", "digits", "cifar*", "*weights*", "*download*", "*corpus*",
]
GPU_PATTERNS = ["*attack*", "*train*", "*dlg*", "*invert*", "*reconstruct*", "*sweep*"]


def rule_class(name: str) -> str:
    """``light``, ``gpu`` or ``cpu`` for a rule called ``name``."""
    if any(fnmatchcase(name, pattern) for pattern in LIGHT_PATTERNS):
        return "light"
    if any(fnmatchcase(name, pattern) for pattern in GPU_PATTERNS):
        return "gpu"
    return "cpu"


def uses_gpu(config: dict) -> bool:
    """``device: cpu`` configs (smoke, CI) never ask the scheduler for a GPU."""
    return config.get("device", "auto") != "cpu"


def gpu_request(config: dict, name: str, own: dict) -> object | None:
    """The ``gpu`` resource rule ``name`` gets, or None to leave it as it is.

    ``own`` maps the rule's resource names to their values as the rule set
    them (ints, or callables evaluated per job).
    """
    if not uses_gpu(config):
        return 0
    if rule_class(name) != "gpu":
        return None
    if "ranks" in own:
        return own["ranks"]
    current = own.get("gpu")
    if callable(current) or (isinstance(current, int) and current >= 1):
        return None
    return 1


def local_rules(names: list[str]) -> list[str]:
    return [name for name in names if rule_class(name) == "light"]


def own_resources(rule) -> dict:
    """A Snakemake rule's declared resources, callables left unevaluated."""
    return {name: (res._evaluator if res.is_evaluable() else res.value) for name, res in rule.resources.items()}
