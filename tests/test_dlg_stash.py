"""A killed DLG job keeps its finished attacks (the stage's --stash)."""

import json

import pytest

from sharegrad.stages import dlg_images
from sharegrad.stages.dlg_images import ImageAttackSpec, run_chunk


def spec(root, **changes):
    settings = dict(data_root=str(root), attack_config={"iterations": 2, "line_search": "strong_wolfe"})
    return ImageAttackSpec(**{**settings, **changes})


def test_a_killed_chunk_takes_its_finished_attacks_back(tmp_path, embedded_root, monkeypatch):
    stash = tmp_path / "stash"
    real = dlg_images.run_one
    calls = []

    def dies_on_the_second(spec, index, *args, **kwargs):
        calls.append(index)
        if index == 1:
            raise KeyboardInterrupt("killed")  # the job dies half-way through its chunk
        return real(spec, index, *args, **kwargs)

    monkeypatch.setattr(dlg_images, "run_one", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        run_chunk(spec(embedded_root), [0, 1], tmp_path / "first", "cpu", stash=stash)
    assert (stash / "attack~0.json").exists() and not (stash / "attack~1.json").exists()
    kept = json.loads((stash / "attack~0.json").read_text())

    calls.clear()
    monkeypatch.setattr(dlg_images, "run_one", lambda *a, **k: (calls.append(a[1]), real(*a, **k))[1])
    records = run_chunk(spec(embedded_root), [0, 1], tmp_path / "second", "cpu", stash=stash)
    assert calls == [1]  # attack 0 was not run again
    assert records[0]["loss_curve"] == kept["loss_curve"]
    assert json.loads((tmp_path / "second" / "attack~0.json").read_text())["files"]["png"].startswith(
        str(tmp_path / "second"))
    assert (tmp_path / "second" / "attack~1.npz").exists()

    # other settings: nothing is taken from the stash
    calls.clear()
    run_chunk(spec(embedded_root, seed=5), [0], tmp_path / "third", "cpu", stash=stash)
    assert calls == [0]
