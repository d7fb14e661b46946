#!/bin/bash
# STATUS.md of the kept issue-21 folders: which cells' attacks had not finished, and the step their checkpoint reached
cd /work/main && source .venv/bin/activate
python - <<'PY'
import subprocess, time, torch
from pathlib import Path
rows = {}
for f in subprocess.run(["find", "/work/main/results", "-path", "*/run21*", "-name", "*.ckpt"], capture_output=True, text=True).stdout.split():
    c = torch.load(f, weights_only=False)
    s = c.get("state", c) if isinstance(c, dict) else {}
    rel = f.split("/results/", 2)[-1]
    name = rel.split("/")[0]
    rows.setdefault(name, []).append((rel, s.get("steps"), s.get("evaluations")))
for name in ("dlg_resnet_bs8_cpu", "text_slides_minilm_cpu", "dlg_iterations_cpu", "text_zen_minilm_100_cpu",
             "text_slides_bert_random_cpu", "text_slides_bert_random_100_cpu"):
    items = rows.get(name, [])
    out = Path("/work/main/results/cpu") / name
    if not out.exists():
        continue
    lines = [f"# Unfinished runs of {name} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             "Written by `results/cpu/issue21_status.sh` from the attacks' checkpoints; the overlay's snakemake "
             "command resumes them. Finished attacks are in this folder's CSV; a cell of the overlay that is in "
             "neither has not started (or started less than one checkpoint interval, 100 steps or 120 s, ago).", "",
             "| checkpoint | outer steps done | evaluations |", "|---|---:|---:|"]
    lines += [f"| `{rel}` | {steps} | {evals} |" for rel, steps, evals in sorted(items)] or ["| (none) | | |"]
    (out / "STATUS.md").write_text("\n".join(lines) + "\n")
    print("wrote", out / "STATUS.md")
PY
