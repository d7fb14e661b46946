"""`sharegrad dlg` as a new user meets it: a text model is refused in one line naming the
image models; --help lists the registered image models, attacks and defenses; an out-dir holding results of
other settings is refused (the same settings may add attacks to it); the sequential progress bar ends at its
count."""

import json
import re
import subprocess
import sys

from sharegrad.defenses import DEFENSES
from sharegrad.pipeline.common import IMAGE, TEXT, attack_names, model_names


def sharegrad(*args):
    return subprocess.run([sys.executable, "-m", "sharegrad.cli", *args], capture_output=True, text=True)


def test_a_text_model_is_refused_in_one_line_naming_the_image_models(tmp_path):
    proc = sharegrad("dlg", "--model", "bert_tiny_random", "--out-dir", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "bert_tiny_random is a text model" in line
    assert all(name in line for name in model_names(IMAGE))
    offered = line.split("image models:")[1]
    assert not any(name in offered for name in model_names(TEXT))


def test_help_lists_the_registered_image_models_attacks_and_defenses():
    proc = sharegrad("dlg", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for name in model_names(IMAGE) + attack_names(IMAGE) + DEFENSES.names():
        assert name in text, name
    assert not any(name in text for name in model_names(TEXT) + attack_names(TEXT))


def test_an_out_dir_of_other_settings_is_refused_and_the_same_settings_add_to_it(tmp_path, embedded_root):
    out = tmp_path / "chunk"
    common = ["dlg", "--data-root", str(embedded_root), "--out-dir", str(out), "--device", "cpu"]
    first = sharegrad(*common, "--attack-config", json.dumps({"iterations": 1}), "--indices", "0:2")
    assert first.returncode == 0, first.stderr
    assert re.findall(r"(\d+)/2 \[", first.stderr)[-1] == "2"  # the progress bar ends at its count
    other = sharegrad(*common, "--attack-config", json.dumps({"iterations": 2}), "--indices", "2:3")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert "holds results of other settings" in other.stderr and "attack_config" in other.stderr
    assert sorted(p.name for p in out.glob("*.json")) == ["attack~0.json", "attack~1.json"]  # untouched
    more = sharegrad(*common, "--attack-config", json.dumps({"iterations": 1}), "--indices", "2:3")
    assert more.returncode == 0, more.stderr
    assert sorted(p.name for p in out.glob("*.json")) == ["attack~0.json", "attack~1.json", "attack~2.json"]
