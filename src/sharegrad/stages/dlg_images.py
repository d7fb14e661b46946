"""Stage: run a chunk of DLG-family attacks on images and score them.

For each attack: build the victim model (seeded), compute the gradients the
victim shares for its batch, hand them to the attack, and score the result
against the ground truth (after optimal matching for batches). One JSON per
attack with parameters, seed, device, versions, wall time, curves and
metrics; one .npz with the ground truth and the snapshots; one PNG.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sharegrad.attacks import Target, run_attack
from sharegrad.attacks.base import victim_gradients
from sharegrad.checkpoint import AttackCheckpoint, CheckpointPolicy, add_cli_options, policy_from_args
from sharegrad.data import load_image_set
from sharegrad.defenses import apply_defense
from sharegrad.errors import UserError
from sharegrad.metrics.image import mse, perceptual_scores, psnr, to_unit_range
from sharegrad.metrics.matching import match_by_mse
from sharegrad.models import build_model
from sharegrad.provenance import config_hash, pick_device, provenance
from sharegrad.stages.common import atomic_path, attack_outcome, write_json


@dataclass
class ImageAttackSpec:
    dataset: str = "embedded"
    split: str = "train"
    model: str = "lenet"
    batch_size: int = 1
    attack: str = "dlg"
    attack_config: dict = field(default_factory=dict)
    defense: str = "none"
    defense_level: float = 0.0
    success_mse: float = 1e-3
    seed: int = 0
    data_root: str | None = None
    lpips_weights: str | None = None  # LPIPS' AlexNet file (sharegrad weights lpips); None: no LPIPS

    def validate(self) -> None:
        if self.batch_size < 1:
            raise UserError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.success_mse > 0:
            raise UserError(f"success_mse must be > 0, got {self.success_mse}")


def image_indices(attack_index: int, batch_size: int) -> list[int]:
    return list(range(attack_index * batch_size, (attack_index + 1) * batch_size))


class ImageObserver:
    """Scores the dummy input after every outer step: the MSE curve and each image's first success.

    Its state travels with the attack's checkpoint, so a resumed attack's curves are whole. With a
    ``progress`` bar it moves the bar one outer step at a time and shows the image MSE and the current
    gradient-match loss (``loss``: given by the batched engine; for a sequential attack, read off its
    L-BFGS optimiser by ``loss_from_optimiser``)."""

    takes_loss = True  # the batched engine passes each step's loss

    def __init__(self, truth: torch.Tensor, success_mse: float):
        self.truth, self.success_mse = truth, success_mse
        self.mse_curve: list[float] = []
        self.first_success: list[int | None] = [None] * truth.shape[0]
        self.progress = None  # a tqdm bar, set by run_chunk; never part of the state
        self.loss: float | None = None

    def __call__(self, step: int, dummy: torch.Tensor, loss: float | None = None) -> None:
        current = to_unit_range(dummy)
        order = match_by_mse(current, self.truth) if self.truth.shape[0] > 1 else np.arange(1)
        per_image = mse(current[order], self.truth)
        self.mse_curve.append(float(per_image.mean()))
        for i, value in enumerate(per_image.tolist()):
            if self.first_success[i] is None and value < self.success_mse:
                self.first_success[i] = step
        if loss is not None:
            self.loss = loss
        if self.progress is not None and step > 0:
            shown = {"mse": f"{self.mse_curve[-1]:.2e}"}
            if self.loss is not None:
                shown["loss"] = f"{self.loss:.3g}"
            self.progress.set_postfix(shown, refresh=False)
            self.progress.update(1)

    def state_dict(self) -> dict:
        return {"mse_curve": list(self.mse_curve), "first_success": list(self.first_success)}

    def load_state_dict(self, state: dict) -> None:
        self.mse_curve, self.first_success = list(state["mse_curve"]), list(state["first_success"])


@dataclass
class ImageProblem:
    """One attack set up: the victim, what it shares, and what scoring needs (never shown to the attack)."""

    spec: ImageAttackSpec
    attack_index: int
    seed: int
    indices: list[int]
    truth: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    model: torch.nn.Module
    target: Target
    observer: ImageObserver
    device: torch.device


def prepare(spec: ImageAttackSpec, attack_index: int, images, device: torch.device) -> ImageProblem:
    """The victim model (seeded), its batch, the gradients it shares after the defense, an observer."""
    seed = spec.seed + attack_index
    indices = image_indices(attack_index, spec.batch_size)
    truth, labels = images.tensor(indices)
    truth, labels = truth.to(device), labels.to(device)
    model = build_model(spec.model, num_classes=images.num_classes, seed=seed).to(device)
    shared = apply_defense(spec.defense, spec.defense_level,
                           victim_gradients(model, truth, labels, images.num_classes), seed)
    target = Target(shared_gradients=shared, input_shape=tuple(truth.shape), num_classes=images.num_classes)
    return ImageProblem(spec, attack_index, seed, indices, truth, labels, images.num_classes, model, target,
                        ImageObserver(truth, spec.success_mse), device)


def score(problem: ImageProblem, result, wall: float, cpu: float | None = None, resumed: int = 0) -> tuple[dict, dict]:
    """The attack's JSON record and arrays: metrics after optimal matching, curves, snapshots.

    ``wall``/``cpu``: seconds the attack took (over all its pieces if it was resumed)."""
    spec, truth, labels, indices = problem.spec, problem.truth, problem.labels, problem.indices
    recon = to_unit_range(result.reconstruction)
    order = match_by_mse(recon, truth) if spec.batch_size > 1 else np.arange(1)
    per_mse = mse(recon[order], truth)
    per_psnr = psnr(recon[order], truth)
    perceptual = perceptual_scores(recon[order], truth, spec.lpips_weights)  # ssim, lpips
    recovered = result.labels[order].cpu()
    first_success = problem.observer.first_success
    per_image = [
        {
            "position": i,
            "image_index": indices[i],
            "true_label": int(labels[i]),
            "recovered_label": int(recovered[i]),
            "label_correct": bool(recovered[i] == labels[i].cpu()),
            "mse": float(per_mse[i]),
            "psnr": float(per_psnr[i]),
            **perceptual[i],
            # A diverged attack is a failure whatever its last image looked like.
            "success": bool(per_mse[i] < spec.success_mse) and result.status == "finished",
            "first_success_step": first_success[i],
        }
        for i in range(spec.batch_size)
    ]
    true_counts = torch.bincount(labels.cpu(), minlength=problem.num_classes)
    recovered_counts = torch.bincount(result.labels.cpu(), minlength=problem.num_classes)
    settings = {k: v for k, v in vars(spec).items() if k != "data_root"}
    record = {
        "kind": "dlg_image",
        "attack_index": problem.attack_index,
        "seed": problem.seed,
        "model_seed": problem.seed,
        "parameters": settings,
        **attack_outcome(result, wall),
        "cpu_time_s": cpu,
        "resumed": resumed,  # times the attack was taken up again from a checkpoint
        # share of the batch's label multiset recovered, whatever the order
        "label_multiset_overlap": float(torch.minimum(true_counts, recovered_counts).sum()) / spec.batch_size,
        "loss_curve": result.loss_curve,
        "mse_curve": problem.observer.mse_curve,
        "images": per_image,
        "provenance": provenance(problem.device, settings),
    }
    steps = sorted(result.snapshots)
    arrays = {
        "truth": truth.cpu().numpy(),
        "snapshot_steps": np.asarray(steps),
        "snapshots": np.stack([to_unit_range(result.snapshots[s])[order].cpu().numpy() for s in steps]),
        "final": recon[order].cpu().numpy(),
    }
    return record, arrays


@contextlib.contextmanager
def loss_from_optimiser(observer: ImageObserver):
    """While an attack runs, hand the observer its optimiser's current loss after every optimiser step.

    The attacks call ``observer(step, dummy)`` without the loss; torch's L-BFGS keeps the loss of its
    last evaluation in its state (``prev_loss``), which a global optimiser step hook reads after each
    outer step, before the attack calls the observer. Optimisers without it (Adam) show the MSE only."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    def read(optimiser, args, kwargs) -> None:
        params = optimiser.param_groups[0]["params"]
        value = optimiser.state.get(params[0], {}).get("prev_loss") if params else None
        if value is not None:
            observer.loss = float(value)

    handle = register_optimizer_step_post_hook(read)
    try:
        yield
    finally:
        handle.remove()


def run_one(spec: ImageAttackSpec, attack_index: int, images, device: torch.device,
            checkpoint=None, progress=None) -> tuple[dict, dict]:
    """One attack the sequential way: prepare, attack (resuming from ``checkpoint`` if it holds one), score.
    ``progress``: a tqdm bar the attack moves one outer step at a time."""
    problem = prepare(spec, attack_index, images, device)
    if checkpoint is not None:
        checkpoint.extra = problem.observer
    problem.observer.progress = progress
    start, cpu_start = time.perf_counter(), time.process_time()
    with loss_from_optimiser(problem.observer) if progress is not None else contextlib.nullcontext():
        result = run_attack(spec.attack, problem.model, problem.target, spec.attack_config, seed=problem.seed,
                            observer=problem.observer, checkpoint=checkpoint)
    problem.observer.progress = None
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    resumed = 0
    if checkpoint is not None:
        wall, cpu = wall + checkpoint.prior_wall_s, cpu + checkpoint.prior_cpu_s
        resumed = checkpoint.resumes
    return score(problem, result, wall, cpu, resumed)


def save_png(path: Path, truth: np.ndarray, final: np.ndarray, scale: int = 3) -> None:
    """Truth above reconstruction, one column per image, each pixel ``scale`` x ``scale``. Drawn with
    Pillow: matplotlib's import and figure cost a second of every attack job."""
    from PIL import Image, ImageDraw

    n, (_, height, width) = len(truth), truth.shape[1:]
    gap, label = 4, 12
    cell_w, cell_h = width * scale, height * scale
    canvas = Image.new("RGB", (n * (cell_w + gap) + gap, 2 * (cell_h + label) + gap), "white")
    draw = ImageDraw.Draw(canvas)
    for row, (title, images) in enumerate((("truth", truth), ("reconstruction", final))):
        top = row * (cell_h + label)
        draw.text((gap, top), title, fill="black")
        for i in range(n):
            pixels = (np.clip(images[i].transpose(1, 2, 0), 0, 1) * 255).round().astype(np.uint8)
            tile = Image.fromarray(pixels).resize((cell_w, cell_h), Image.NEAREST)
            canvas.paste(tile, (gap + i * (cell_w + gap), top + label))
    tmp = atomic_path(path)
    canvas.save(tmp, format="PNG")
    tmp.replace(path)


def attack_steps(spec: ImageAttackSpec) -> int | None:
    """Outer steps each attack of ``spec`` runs (its ``iterations`` setting or declared default), if known."""
    from sharegrad.attacks import ATTACKS

    declared = getattr(ATTACKS.get(spec.attack), "settings", None) or {}
    steps = {**declared, **spec.attack_config}.get("iterations")
    return int(steps) if isinstance(steps, (int, float)) and steps > 0 else None


def spec_key(spec: ImageAttackSpec, attack_index: int) -> str:
    """What identifies one attack's result: every setting of the spec and the index."""
    return config_hash({**dataclasses.asdict(spec), "attack_index": attack_index})


def _write_attack(stem: Path, record: dict, arrays: dict) -> None:
    tmp = atomic_path(stem.with_suffix(".npz"))
    np.savez_compressed(tmp, **arrays)
    tmp.replace(stem.with_suffix(".npz"))
    save_png(stem.with_suffix(".png"), arrays["truth"], arrays["final"])
    record["files"] = {"arrays": str(stem.with_suffix(".npz")), "png": str(stem.with_suffix(".png"))}
    write_json(stem.with_suffix(".json"), record)


def _copy_attack(source: Path, stem: Path, record: dict) -> None:
    """An attack written under ``source`` (the stash), published under ``stem`` without re-encoding."""
    for suffix in (".npz", ".png"):
        tmp = atomic_path(stem.with_suffix(suffix))
        shutil.copyfile(source.with_suffix(suffix), tmp)
        tmp.replace(stem.with_suffix(suffix))
    record["files"] = {"arrays": str(stem.with_suffix(".npz")), "png": str(stem.with_suffix(".png"))}
    write_json(stem.with_suffix(".json"), record)


def _from_stash(stash: Path, spec: ImageAttackSpec, index: int) -> dict | None:
    """The record of a finished attack of an earlier, killed job with the same settings, or None."""
    stem = stash / f"attack~{index}"
    try:
        record = json.loads(stem.with_suffix(".json").read_text())
        with np.load(stem.with_suffix(".npz")):  # opens only if it is a readable archive
            pass
        if not stem.with_suffix(".png").exists():
            return None
    except (OSError, ValueError):
        return None  # absent or unreadable: run the attack again
    return record if record.get("spec_key") == spec_key(spec, index) else None


def refuse_other_settings(out_dir: Path, spec: ImageAttackSpec) -> None:
    """An out-dir holds the attacks of one setting: results of other settings there would be aggregated
    together with these. Attacks of the same settings (other indices) may be added to it."""
    mine = json.loads(json.dumps({k: v for k, v in vars(spec).items() if k != "data_root"}))
    for existing in sorted(out_dir.glob("attack~*.json")):
        try:
            theirs = json.loads(existing.read_text()).get("parameters")
        except (OSError, ValueError):
            continue
        if theirs is None:
            continue
        theirs = {k: v for k, v in theirs.items() if k != "data_root"}
        if theirs != mine:
            differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            said = ", ".join(f"{k}: {theirs.get(k)!r} there, {mine.get(k)!r} now" for k in differ)
            raise UserError(f"{out_dir} holds results of other settings ({existing.name}: {said}); give another "
                            "--out-dir, or the same settings to add attacks to it")


def run_chunk(spec: ImageAttackSpec, attack_indices: list[int], out_dir: Path, device: str = "auto",
              engine: str = "sequential", stash: Path | None = None,
              checkpoints: CheckpointPolicy | None = None) -> list[dict]:
    """Run the attacks in ``attack_indices``; their files land in ``out_dir`` when all have ended.

    ``engine``: sequential (one attack after another) or batched (all of the chunk
    advanced together, sharegrad/engine/; same records, DLG only; a chunk with a
    single attack left to run goes the sequential way). Each record says which.
    ``stash``: a folder outside the job's output that keeps every finished attack,
    so a job killed half-way (Snakemake deletes its output folder) takes the
    attacks it had finished from there when run again, instead of recomputing them.
    Only an attack with exactly the same settings (``spec_key``) is taken.
    ``checkpoints`` (with a stash; default ``CheckpointPolicy()``): how often each running
    attack saves its state next to the stash (``attack~I.ckpt``), which a rerun resumes
    from; removed once the attack's result is in the stash."""
    spec.validate()
    if engine not in ("sequential", "batched"):
        raise UserError(f"engine must be sequential or batched, not {engine!r}")
    from sharegrad.attacks import ATTACKS

    attack = ATTACKS.get(spec.attack)
    if hasattr(attack, "validate"):
        attack.validate(spec.attack_config)
    torch_device = pick_device(device)
    root = Path(spec.data_root) if spec.data_root else None
    images = load_image_set(spec.dataset, spec.split, root)
    available = len(images) // spec.batch_size
    bad = [i for i in attack_indices if not 0 <= i < available]
    if bad:
        raise UserError(f"attack index {bad[0]} is out of range: {spec.dataset}/{spec.split} holds {len(images)} images, "
                        f"so {available} attacks of batch size {spec.batch_size} (0..{available - 1})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    refuse_other_settings(out_dir, spec)
    kept: dict[int, dict] = {}  # attack -> record, files under the stash
    if stash is not None:
        stash = Path(stash)
        stash.mkdir(parents=True, exist_ok=True)
        for index in attack_indices:
            record = _from_stash(stash, spec, index)
            if record is not None:
                kept[index] = record
        if kept:
            print(f"taking {len(kept)} finished attack(s) from {stash}: {sorted(kept)}", flush=True)
    todo = [i for i in attack_indices if i not in kept]
    if engine == "batched" and len(todo) == 1:
        # the batched engine evaluates a lone attack twice (so that no attack's numbers depend on
        # whether others run beside it); one attack is cheaper the sequential way
        engine = "sequential"
    policy = checkpoints if checkpoints is not None else CheckpointPolicy()
    saves = {index: AttackCheckpoint(stash / f"attack~{index}.ckpt", spec_key(spec, index), policy, engine)
             for index in todo} if stash is not None and policy.enabled else {}
    if engine == "batched" and todo:
        from sharegrad.engine.chunk import run_batched

        problems = [prepare(spec, index, images, torch_device) for index in todo]
        for problem in problems:
            if problem.attack_index in saves:
                saves[problem.attack_index].extra = problem.observer
        timed = run_batched(problems, spec.attack, spec.attack_config, [saves.get(i) for i in todo])
        outputs = (score(problem, result, wall, cpu, saves[problem.attack_index].resumes if saves else 0)
                   for problem, (result, wall, cpu) in zip(problems, timed))
    else:
        # one bar for the chunk, moved per outer step of each attack (an attack of 50 steps would sit at
        # 0/1 for its whole run on a bar of attacks); in a log file (not a terminal) it writes every 30 s
        steps = attack_steps(spec)
        desc = f"{spec.attack} {spec.model} bs{spec.batch_size}"
        bar = tqdm(total=len(todo) * steps if steps else None, desc=desc, unit="step",
                   mininterval=0.5 if sys.stderr.isatty() else 30)

        def sequential():
            for number, index in enumerate(todo, start=1):
                bar.set_description(f"{desc} attack {index} ({number}/{len(todo)})", refresh=False)
                output = run_one(spec, index, images, torch_device, saves.get(index), progress=bar)
                if steps and number * steps > bar.n:  # a diverged attack stopped early, a resumed one started late
                    bar.update(number * steps - bar.n)
                yield output
            bar.close()

        outputs = sequential()
    fresh: dict[int, tuple[dict, dict]] = {}
    for (record, arrays), index in zip(outputs, todo):
        record["spec_key"] = spec_key(spec, index)
        record["engine"] = engine  # which engine computed it (a stashed record keeps its own)
        if stash is not None:  # kept at once: a job killed later loses only its running attack
            _write_attack(stash / f"attack~{index}", record, arrays)
            kept[index] = record
            if index in saves:  # the result is safe: its checkpoint has done its work
                saves[index].remove()
        else:
            fresh[index] = (record, arrays)
    records = []
    for index in attack_indices:
        stem = out_dir / f"attack~{index}"
        if index in kept:
            record = dict(kept[index])
            _copy_attack(stash / f"attack~{index}", stem, record)
        else:
            record, arrays = fresh[index]
            _write_attack(stem, record, arrays)
        records.append(record)
    return records


def parse_indices(text: str) -> list[int]:
    """``0:8`` (start:stop, stop excluded), ``3`` or ``0,2,5``; never empty, never negative, no repeats."""
    try:
        if ":" in text:
            start, stop = (int(v) for v in text.split(":"))
            if stop <= start:
                raise UserError(f"--indices {text} selects no attack: start:stop runs start .. stop-1, so stop must "
                                f"be above start (e.g. {start}:{start + 1})")
            indices = list(range(start, stop))
        else:
            indices = [int(v) for v in text.split(",")]
    except ValueError:
        raise UserError(f"--indices must look like 0:8, 3 or 0,2,5, not {text!r}") from None
    if any(i < 0 for i in indices):
        raise UserError(f"--indices {text}: attack indices are >= 0")
    if len(set(indices)) != len(indices):
        raise UserError(f"--indices {text} names an attack twice")
    return indices


def register_cli(subparsers) -> None:
    from sharegrad.attacks import ATTACKS
    from sharegrad.defenses import DEFENSES
    from sharegrad.pipeline.common import IMAGE, attack_names, model_names

    image_models, image_attacks = model_names(IMAGE), attack_names(IMAGE)
    settings = "; ".join(f"{name}: " + ", ".join(f"{k}={v}" for k, v in {**getattr(ATTACKS.get(name), "cell_settings", {}),
                                                                        **getattr(ATTACKS.get(name), "settings", {})}.items())
                         for name in image_attacks if getattr(ATTACKS.get(name), "settings", None))
    p = subparsers.add_parser("dlg", help="run a chunk of gradient-inversion attacks on images",
                              description="Run attacks number INDICES (attack i uses images i*bs .. i*bs+bs-1).",
                              epilog=f"image models: {', '.join(image_models)}. image attacks: "
                                     f"{', '.join(image_attacks)}. defenses: {', '.join(DEFENSES.names())}. "
                                     f"attack settings (--attack-config keys, with their defaults): {settings}. "
                                     "(text models and attacks: sharegrad dlg-text)")
    p.add_argument("--dataset", default="embedded", help="embedded | cifar100 | cifar10")
    p.add_argument("--split", default="train", help="train | test: which split of the data set (default train)")
    p.add_argument("--data-root", default=None, help="folder holding cifar-100-python/ (default: data/<set>)")
    p.add_argument("--model", default="lenet", help=f"an image model: {', '.join(image_models)}")
    p.add_argument("--batch-size", type=int, default=1,
                   help="images per attack, all recovered at once from one shared gradient (default 1)")
    p.add_argument("--attack", default="dlg", help=f"an image attack: {', '.join(image_attacks)}")
    p.add_argument("--attack-config", default="{}",
                   help="JSON object of attack settings, e.g. '{\"iterations\": 300}' (each attack's keys and "
                        "defaults are listed below)")
    p.add_argument("--defense", default="none", help="transform applied to the shared gradients (sharegrad/defenses/)")
    p.add_argument("--defense-level", type=float, default=0.0,
                   help="the defense's knob: noise variance, pruned fraction in [0, 1), ... (default 0)")
    p.add_argument("--success-mse", type=float, default=1e-3,
                   help="an image counts as recovered when its MSE on [0, 1] images is below this (default 1e-3)")
    p.add_argument("--seed", type=int, default=0,
                   help="attack i uses seed SEED+i for the victim model, the defense's noise and the dummy (default 0)")
    p.add_argument("--indices", default="0:1", help="attack indices: 0:8, 3 or 0,2,5")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--lpips-weights", default=None,
                   help="LPIPS AlexNet weights file (made by `sharegrad weights lpips`); without it no LPIPS is scored")
    p.add_argument("--engine", default="sequential", choices=["sequential", "batched"],
                   help="sequential: one attack after another; batched: the whole chunk as one vectorised problem (dlg only)")
    p.add_argument("--out-dir", required=True,
                   help="folder for each attack's record, arrays and picture (attack~I.json, .npz, .png)")
    p.add_argument("--stash", default=None,
                   help="folder that keeps finished attacks across a killed job (reused only with identical settings)")
    add_cli_options(p, "each running attack")

    def handler(args):
        try:
            attack_config = json.loads(args.attack_config)
        except json.JSONDecodeError as exc:
            raise UserError(f"--attack-config is not valid JSON: {exc}") from None
        if not isinstance(attack_config, dict):
            raise UserError("--attack-config must be a JSON object")
        if args.threads:
            torch.set_num_threads(args.threads)
        from sharegrad.attacks import ATTACKS
        from sharegrad.models import MODELS

        from sharegrad.defenses import DEFENSES

        # fail on a bad name before loading anything, naming what this command takes
        if args.model not in image_models:
            kind = "a text model" if args.model in MODELS.names() else "not a registered model"
            raise UserError(f"--model {args.model} is {kind}; sharegrad dlg attacks image models: "
                            f"{', '.join(image_models)} (text models: sharegrad dlg-text)")
        if args.attack not in image_attacks:
            kind = "a text attack" if args.attack in ATTACKS.names() else "not a registered attack"
            raise UserError(f"--attack {args.attack} is {kind}; image attacks: {', '.join(image_attacks)}")
        DEFENSES.get(args.defense)
        spec = ImageAttackSpec(dataset=args.dataset, split=args.split, model=args.model, batch_size=args.batch_size,
                               attack=args.attack, attack_config=attack_config,
                               defense=args.defense, defense_level=args.defense_level, success_mse=args.success_mse,
                               seed=args.seed, data_root=args.data_root, lpips_weights=args.lpips_weights)
        if args.lpips_weights:  # a missing or altered weights file fails now, not after the first attack
            from sharegrad.metrics.lpips_weights import load_backbone

            load_backbone(Path(args.lpips_weights))
        records = run_chunk(spec, parse_indices(args.indices), Path(args.out_dir), args.device, args.engine,
                            Path(args.stash) if args.stash else None,
                            policy_from_args(args))
        ok = sum(image["success"] for r in records for image in r["images"])
        total = sum(len(r["images"]) for r in records)
        print(f"{len(records)} attacks, {ok}/{total} images below MSE {spec.success_mse:g}")

    p.set_defaults(handler=handler)
