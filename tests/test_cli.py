import json
import subprocess
import sys

import pytest


def sharegrad(*args, env=None):
    return subprocess.run([sys.executable, "-m", "sharegrad.cli", *args], capture_output=True, text=True, env=env)


def assert_one_line_error(proc, *words):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0]


def test_help_lists_every_stage():
    proc = sharegrad("--help")
    assert proc.returncode == 0
    for command in ("data", "dlg", "aggregate-dlg", "figure"):
        assert command in proc.stdout


def test_bad_model_name(tmp_path):
    assert_one_line_error(sharegrad("dlg", "--model", "vgg99", "--out-dir", str(tmp_path)), "vgg99", "lenet")


def test_missing_data_set(tmp_path):
    proc = sharegrad("dlg", "--dataset", "cifar100", "--data-root", str(tmp_path), "--out-dir", str(tmp_path / "o"))
    assert_one_line_error(proc, "cifar100", "not found")


def test_out_of_range_index(tmp_path, embedded_root):
    proc = sharegrad("dlg", "--data-root", str(embedded_root), "--indices", "100000", "--out-dir", str(tmp_path))
    assert_one_line_error(proc, "100000", "out of range")


def test_bad_attack_setting(tmp_path, embedded_root):
    proc = sharegrad("dlg", "--data-root", str(embedded_root), "--attack-config", json.dumps({"line_serch": "x"}),
                     "--out-dir", str(tmp_path))
    assert_one_line_error(proc, "line_serch")


def test_offline_cifar_download_fails_clearly(tmp_path, monkeypatch):
    import urllib.request

    from sharegrad.data.cifar import download_cifar
    from sharegrad.errors import UserError

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", offline)
    with pytest.raises(UserError, match="internet"):
        download_cifar("cifar100", tmp_path)


def test_one_attack_end_to_end_writes_json_npz_png(tmp_path, embedded_root):
    out = tmp_path / "chunk"
    proc = sharegrad("dlg", "--data-root", str(embedded_root), "--indices", "0:1", "--threads", "1",
                     "--attack-config", json.dumps({"iterations": 2, "line_search": "strong_wolfe"}),
                     "--device", "cpu", "--out-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    record = json.loads((out / "attack~0.json").read_text())
    assert record["parameters"]["attack_config"]["line_search"] == "strong_wolfe"
    assert record["provenance"]["device"].startswith("cpu")
    assert {"torch", "python"} <= set(record["provenance"]["versions"])
    assert len(record["loss_curve"]) == 3 and record["wall_time_s"] > 0
    assert {"mse", "psnr", "recovered_label", "true_label"} <= set(record["images"][0])
    assert (out / "attack~0.npz").exists() and (out / "attack~0.png").stat().st_size > 1000


def test_help_and_argument_errors_import_no_stage():
    """`sharegrad --help` reads the stages' commands from their sources: torch is never imported."""
    code = ("import sys\nfrom sharegrad.cli import main\n"
            "for argv in (['--help'], ['no-such-command']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('torch', 'pandas', 'sharegrad.stages.dlg_images') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr


def test_the_source_index_lists_what_the_stages_register():
    """Every subcommand (name and help) the stage modules register, and no other, is in the static index."""
    from sharegrad.cli import build_parser, stage_commands

    def listed(parser):
        action = next(a for a in parser._actions if a.dest == "command")
        return {c.dest: c.help for c in action._choices_actions}

    index = {name: help_text for commands in stage_commands().values() for name, help_text in commands or []}
    assert listed(build_parser()) == index
    assert listed(build_parser("dlg", only_chosen=True)) == index


@pytest.mark.parametrize("variable,default,chosen", [("OMP_WAIT_POLICY", "PASSIVE", "ACTIVE"),
                                                     ("GOMP_SPINCOUNT", "10000", "0")])
def test_sharegrad_sets_its_openmp_wait_unless_the_user_chose(variable, default, chosen):
    """A passive wait policy and a short spin (src/sharegrad/__init__.py), a user's own value kept."""
    code = f"import os, sharegrad; print(os.environ['{variable}'])"
    env = {k: v for k, v in __import__("os").environ.items() if k != variable}
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip() == default
    env[variable] = chosen
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip() == chosen
