"""What the data rules (workflow/rules/data.smk) make, as the other rules ask for it: the file whose
presence says a config's data set is ready. Every data set lives under the top-level ``data/``.
"""

from __future__ import annotations

DATA = "data"


def image_data_file(config: dict) -> str:
    """The file whose presence says the configured image set is ready (a rule of data.smk makes it)."""
    name, split = config["data"]["image_dataset"], config["data"]["split"]
    if name == "cifar10":
        return f"{DATA}/cifar/cifar-10-batches-py/{'test_batch' if split == 'test' else 'data_batch_1'}"
    root = f"{DATA}/embedded" if name == "embedded" else f"{DATA}/cifar"
    return f"{root}/cifar-100-python/{split}"
