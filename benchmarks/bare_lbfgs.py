"""The yardstick for `sharegrad dlg`'s overhead: DLG as a bare script.

It imports torch only, defines the DLG repository's LeNet, computes the victim's
gradients on one image and runs ``torch.optim.LBFGS`` (lr 1, history 100,
max_iter 20) over the DLG closure for the given outer steps, with the
divergence rule of ``attacks/dlg.py``. Whatever `sharegrad dlg` costs beyond this
process, start-up included, is overhead.

The image, the model's weights and the dummy's initial values are those of
`sharegrad dlg`'s attack (``--prepare`` writes them, once, with sharegrad; the timed
run reads them with torch alone), so both processes do the same arithmetic and the
same number of evaluations: the final loss each prints can be compared.

    python benchmarks/bare_lbfgs.py --prepare problem.pt --data-root data/embedded --index 0
    farm-bench -n 5 --timeout 3600 \\
        --vs "python benchmarks/bare_lbfgs.py --problem problem.pt --iterations 300 --threads 1" -- \\
        sharegrad dlg --data-root data/embedded --indices 0 --threads 1 --device cpu --out-dir dlg_out \\
        --attack-config '{"iterations": 300, "line_search": "none"}'
"""

import argparse
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn


class LeNet(nn.Module):  # mit-han-lab/dlg models/vision.py; same parameter names as sharegrad's
    def __init__(self, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 12, kernel_size=5, padding=2, stride=2), nn.Sigmoid(),
            nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=2), nn.Sigmoid(),
            nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=1), nn.Sigmoid(),
        )
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x):
        return self.fc(self.body(x).flatten(1))


def cross_entropy(logits, soft_targets):
    return torch.mean(torch.sum(-soft_targets * F.log_softmax(logits, dim=-1), dim=-1))


def prepare(path: str, data_root: str, index: int, seed: int) -> None:
    """The problem of `sharegrad dlg --indices INDEX --seed SEED` (batch 1, no defense), saved for the bare run."""
    from sharegrad.data import load_image_set
    from sharegrad.seeding import generator
    from sharegrad.stages.dlg_images import ImageAttackSpec, prepare as prepare_problem

    spec = ImageAttackSpec(data_root=data_root, seed=seed)
    problem = prepare_problem(spec, index, load_image_set("embedded", "train", data_root), torch.device("cpu"))
    g = generator(problem.seed, "attack:dlg:init")  # attacks/dlg.py's draws, in its order
    dummy = torch.randn(problem.target.input_shape, generator=g)
    dummy_label = torch.randn((1, problem.num_classes), generator=g)
    torch.save({"state": problem.model.state_dict(), "truth": problem.truth, "label": problem.labels,
                "num_classes": problem.num_classes, "dummy": dummy, "dummy_label": dummy_label}, path)
    print(f"wrote {path} (attack {index}, seed {problem.seed})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--problem", help="file written by --prepare")
    p.add_argument("--prepare", metavar="FILE", help="write the problem file (uses sharegrad) and exit")
    p.add_argument("--data-root", default="data/embedded")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--line-search", default="none", choices=["none", "strong_wolfe"])
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.prepare:
        prepare(args.prepare, args.data_root, args.index, args.seed)
        return
    if not args.problem:
        p.error("give --problem (or --prepare)")
    if args.threads:
        torch.set_num_threads(args.threads)

    problem = torch.load(args.problem)
    model = LeNet(problem["num_classes"])
    model.load_state_dict(problem["state"])
    params = list(model.parameters())
    onehot = F.one_hot(problem["label"], problem["num_classes"]).float()
    shared = [g.detach() for g in torch.autograd.grad(cross_entropy(model(problem["truth"]), onehot), params)]

    dummy = problem["dummy"].clone().requires_grad_(True)
    dummy_label = problem["dummy_label"].clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([dummy, dummy_label], lr=1, history_size=100, max_iter=20,
                                  line_search_fn=None if args.line_search == "none" else "strong_wolfe")
    evaluations = 0

    def closure():
        nonlocal evaluations
        evaluations += 1
        optimizer.zero_grad()
        loss = cross_entropy(model(dummy), F.softmax(dummy_label, dim=-1))
        dummy_grads = torch.autograd.grad(loss, params, create_graph=True)
        distance = sum(((d - s) ** 2).sum() for d, s in zip(dummy_grads, shared))
        distance.backward(inputs=[dummy, dummy_label])  # as sharegrad does: not into the model
        return distance

    status = "finished"
    for step in range(1, args.iterations + 1):
        loss = float(optimizer.step(closure))
        peak = float(dummy.detach().abs().max())
        if not math.isfinite(loss) or not math.isfinite(peak) or peak > 1e4:
            status = f"diverged at step {step}"
            break
    image_mse = float(((dummy.detach().clamp(0, 1) - problem["truth"]) ** 2).mean())
    print(f"{status}: loss {loss:.6g}, {evaluations} evaluations, image MSE {image_mse:.3g}")


if __name__ == "__main__":
    sys.exit(main())
