"""The plan documents in docs/ are what `make plan` writes, and what a fresh `sharegrad plan` renders now.

A plan written once goes stale as measurements are kept; this test renders each document again from
the command its first line names (same configs, profile and start-up) and fails when the two differ,
naming the command that brings the document up to date."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

from sharegrad.stages.plan import document, headline

ROOT = Path(__file__).resolve().parents[1]
MADE_BY = re.compile(r"Made by `(sharegrad plan [^`]*)`: start-up ([0-9.]+) s per job")


def make_plan_documents() -> list[str]:
    """The Markdown files the Makefile's plan target writes."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nplan:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"--markdown (\S+)", recipe)


def test_make_plan_writes_every_plan_document_in_docs():
    written = make_plan_documents()
    assert written, "the Makefile's plan target writes no --markdown document"
    assert sorted(written) == sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("plan_paper*.md"))


@pytest.mark.parametrize("doc", make_plan_documents())
def test_plan_document_equals_a_fresh_render(doc, monkeypatch):
    monkeypatch.chdir(ROOT)  # the command's paths are relative to the checkout
    text = (ROOT / doc).read_text()
    made_by = MADE_BY.search(text)
    assert made_by, f"{doc} does not say which command made it"
    words = shlex.split(made_by.group(1))[2:]
    configs = [words[i + 1] for i, w in enumerate(words) if w == "--config"]
    profile = next((words[i + 1] for i, w in enumerate(words) if w == "--profile"), None)
    roots = [Path(words[i + 1]) for i, w in enumerate(words) if w == "--measurements"] or [
        Path("results/cpu"), Path("results/gpu")]
    fresh, _, _ = document(configs, profile, roots, float(made_by.group(2)))
    assert text.rstrip("\n") == fresh.rstrip("\n"), f"{doc} is stale against a fresh plan: run `make plan`"


def test_headline_counts_the_measured_cells_and_names_the_largest_unmeasured_group():
    table = pd.DataFrame(
        [{"device": "gpu", "stage": "dlg", "cell": f"c{i}", "model": "lenet", "units": 10, "unit": "attacks",
          "evaluations": 100.0, "hours": 1.0} for i in range(3)]
        + [{"device": "gpu", "stage": "dlg", "cell": f"r{i}", "model": "resnet", "units": 10, "unit": "attacks",
            "evaluations": 200.0, "hours": None} for i in range(2)]
        + [{"device": "gpu", "stage": "dtc", "cell": f"t{i}", "model": "mlp", "units": 1, "unit": "runs",
            "evaluations": None, "hours": None} for i in range(5)])
    summary = pd.DataFrame([{"device": "gpu", "stage": "all", "cells": 10, "jobs": 10, "units": 35,
                             "hours": 3.0, "unmeasured": 7}])
    line = headline(table, summary)
    assert "3.0 h for the 3 of 10 cells measured on it" in line
    assert "other 7 cells, mostly dtc on mlp (5 cells, 5 runs); dlg on resnet (2 cells, 20 attacks, up to 400" in line
