"""The text-attack tables and figures read hand-written CSVs whose right answers are worked out here by hand.

Wilson intervals (95%) written out: 1/3 -> [6%, 79%], 2/3 -> [21%, 94%], 0/3 -> [0%, 56%].
"""

from __future__ import annotations

import pytest
from report_helpers import assert_lines, capture, lines_by_label, markdown_tables, write_csv

from sharegrad.errors import UserError
from sharegrad.report import text_decoding, text_defenses, text_length, text_summary

BASE = {"model": "bert_tiny", "weights": "seeded random", "model_parameters": 4_400_000, "attack": "text_dlg",
        "defense": "none", "level": 0.0, "source": "slides", "seed": 0, "status": "finished", "steps": 30,
        "evaluations": 300, "wall_time_s": 12.0, "seconds_per_evaluation": 0.04, "final_loss": 0.1,
        "device": "cpu:x86_64", "token_set_recall": 1.0, "rouge1_f": 1.0, "rouge2_f": 1.0}


def sentence(sentence_id, n_tokens, budget, token_accuracy, rouge_l, exact, first_exact_step=None, **cell):
    return {**BASE, "sentence_id": sentence_id, "n_tokens": n_tokens, "true_text": f"text {sentence_id}",
            "budget": budget, "step": budget, "token_accuracy": token_accuracy, "rougeL_f": rouge_l,
            "exact_match": exact, "first_exact_step": first_exact_step, "recovered_text": f"got {sentence_id}",
            "recovered_tokens": f"got {sentence_id}", "record": f"run/sentence~{sentence_id}.json", **cell}


def text_rows():
    return [sentence("a", 8, 10, 0.5, 0.6, False), sentence("b", 12, 10, 0.25, 0.3, False),
            sentence("c", 4, 10, 1.0, 1.0, True, 7),
            sentence("a", 8, 30, 1.0, 1.0, True, 22), sentence("b", 12, 30, 1.0, 1.0, True, 28),
            sentence("c", 4, 30, 0.75, 0.8, False),
            sentence("a", 8, 30, 0.0, 0.1, False, defense="gaussian", level=0.01),
            sentence("b", 12, 30, 0.5, 0.4, False, defense="gaussian", level=0.01),
            sentence("c", 4, 30, 0.25, 0.1, False, defense="gaussian", level=0.01),
            sentence("a", 8, 30, 1.0, 1.0, True, 20, defense="gaussian", level=0.0001),
            sentence("b", 12, 30, 0.5, 0.6, False, defense="gaussian", level=0.0001)]


def test_text_summary_one_table_per_cell_and_budget(tmp_path):
    out = tmp_path / "text.md"
    text_summary.render([write_csv(tmp_path / "text.csv", text_rows())], out, {"config": "handwritten"})
    sections = {s.splitlines()[0]: s for s in out.read_text().split("\n## ")[1:]}
    assert set(sections) == {"bert_tiny, text_dlg, defense none 0.0, budget 10 iterations",
                             "bert_tiny, text_dlg, defense none 0.0, budget 30 iterations",
                             "bert_tiny, text_dlg, defense gaussian 0.0001, budget 30 iterations",
                             "bert_tiny, text_dlg, defense gaussian 0.01, budget 30 iterations"}
    ten = sections["bert_tiny, text_dlg, defense none 0.0, budget 10 iterations"]
    assert "Mean token accuracy 0.58, mean ROUGE-L 0.63, exact match 1/3 = 33% [6%, 79%]" in ten
    thirty = sections["bert_tiny, text_dlg, defense none 0.0, budget 30 iterations"]
    assert "Mean token accuracy 0.92, mean ROUGE-L 0.93, exact match 2/3 = 67% [21%, 94%]" in thirty
    noisy = sections["bert_tiny, text_dlg, defense gaussian 0.01, budget 30 iterations"]
    assert "exact match 0/3 = 0% [0%, 56%]" in noisy
    rows = markdown_tables(thirty)[0]
    assert [r["sentence_id"] for r in rows] == ["c", "a", "b"]  # by length within a source
    assert [float(r["token_accuracy"]) for r in rows] == [0.75, 1.0, 1.0]
    assert [r["first_exact_step"] for r in rows] == ["nan", "22", "28"]  # iterations to the exact sentence
    assert [r["exact_match"] for r in rows] == ["False", "True", "True"]
    assert rows[1]["recovered_text"] == "got a"


def test_text_summary_reads_several_csvs_and_counts_a_sentence_read_twice_once(tmp_path):
    # two runs of the undefended cell: one stopped at 10 steps, one at 30 read at 10 and 30 (its rows at 10
    # are the first run's again, as the same seed gives on CPU), plus a second model only in the second CSV
    short = [r for r in text_rows() if r["defense"] == "none" and r["budget"] == 10]
    long = [{**r, "record": "long/" + r["record"]} for r in text_rows() if r["defense"] == "none"]
    other = [sentence("a", 8, 30, 0.5, 0.5, False, model="minilm")]
    out = tmp_path / "text.md"
    text_summary.render([write_csv(tmp_path / "short.csv", short), write_csv(tmp_path / "long.csv", long + other)],
                        out, {"config": "two runs"})
    sections = {s.splitlines()[0]: s for s in out.read_text().split("\n## ")[1:]}
    assert set(sections) == {"bert_tiny, text_dlg, defense none 0.0, budget 10 iterations",
                             "bert_tiny, text_dlg, defense none 0.0, budget 30 iterations",
                             "minilm, text_dlg, defense none 0.0, budget 30 iterations"}
    ten = sections["bert_tiny, text_dlg, defense none 0.0, budget 10 iterations"]
    assert "exact match 1/3 = 33% [6%, 79%]" in ten  # not 2/6: each sentence once
    assert [r["sentence_id"] for r in markdown_tables(ten)[0]] == ["c", "a", "b"]
    assert "exact match 0/1" in sections["minilm, text_dlg, defense none 0.0, budget 30 iterations"]
    # the sample line names each cell's model, so two models at one budget are told apart
    assert "minilm, text_dlg, defense none 0.0, budget 30 exact matches (0/1" in out.read_text()
    assert "bert_tiny, text_dlg, defense none 0.0, budget 30 exact matches (2/3" in out.read_text()


def test_text_summary_refuses_two_runs_that_decode_a_sentence_differently(tmp_path):
    first = [sentence("a", 8, 10, 0.5, 0.6, False)]
    second = [{**sentence("a", 8, 10, 0.25, 0.3, False), "recovered_tokens": "other tokens", "record": "b.json"}]
    with pytest.raises(UserError, match=r"slides.*decodes differently in .*1.csv \(record run/sentence~a.json\); "
                                         r".*2.csv \(record b.json\)"):
        text_summary.render([write_csv(tmp_path / "1.csv", first), write_csv(tmp_path / "2.csv", second)],
                            tmp_path / "t.md", {})


def test_text_length_means_by_length_at_the_largest_budget(tmp_path, monkeypatch):
    rows = text_rows() + [sentence("d", 8, 30, 0.5, 0.4, False), sentence("d", 8, 10, 0.0, 0.0, False)]
    captured = capture(monkeypatch, text_length)
    text_length.render([write_csv(tmp_path / "text.csv", rows)], tmp_path / "l.png", {})
    accuracy, rouge = captured.fig.axes
    # undefended, budget 30: lengths 4 (0.75), 8 (1.0 and 0.5), 12 (1.0)
    assert_lines(lines_by_label(accuracy), {"bert_tiny, text_dlg": [[4, 0.75], [8, 0.75], [12, 1.0]]})
    assert_lines(lines_by_label(rouge), {"bert_tiny, text_dlg": [[4, 0.8], [8, 0.7], [12, 1.0]]})
    assert sorted(map(tuple, accuracy.collections[0].get_offsets().tolist())) == [(4, 0.75), (8, 0.5), (8, 1.0),
                                                                                  (12, 1.0)]
    assert "30 L-BFGS iterations" in captured.fig._suptitle.get_text()
    captured.figures.clear()
    text_length.render([write_csv(tmp_path / "text.csv", rows)], tmp_path / "l.png", {"budget": 10})
    assert_lines(lines_by_label(captured.fig.axes[0]), {"bert_tiny, text_dlg": [[4, 1.0], [8, 0.25], [12, 0.25]]})


def test_text_defenses_means_per_level_and_the_baseline(tmp_path, monkeypatch):
    captured = capture(monkeypatch, text_defenses)
    text_defenses.render([write_csv(tmp_path / "text.csv", text_rows())], tmp_path / "d.png", {})
    accuracy, rouge = captured.fig.axes
    # gaussian at budget 30: 1e-4 -> (1.0 + 0.5) / 2, 1e-2 -> (0 + 0.5 + 0.25) / 3
    lines = lines_by_label(accuracy)
    assert_lines({"gaussian": lines["gaussian"]}, {"gaussian": [[0.0001, 0.75], [0.01, 0.25]]})
    assert lines["no defense"][0][1] == 11 / 12  # mean of 1, 1, 0.75 at budget 30
    assert_lines({"gaussian": lines_by_label(rouge)["gaussian"]}, {"gaussian": [[0.0001, 0.8], [0.01, 0.2]]})
    assert "30 L-BFGS iterations" in captured.fig._suptitle.get_text()


def snapshot(sentence_id, step, tokens, **cell):
    return {"model": "bert_tiny", "attack": "text_dlg", "defense": "none", "level": 0.0, "sentence_id": sentence_id,
            "true_text": "[CLS] jim hen ##son [SEP]", "step": step, "tokens": tokens, **cell}


def test_text_decoding_rows_at_the_shown_steps(tmp_path):
    rows = [snapshot("slide_henson", s, t) for s, t in
            [(0, "a b ##c"), (5, "x"), (10, "jim x ##son"), (15, "y"), (20, "jim hen ##son"), (27, "jim hen ##son")]]
    rows += [snapshot("slide_henson", 10, "noisy", defense="gaussian", level=0.01),
             snapshot("wiki_1", 10, "not a slide sentence")]
    out = tmp_path / "decoding.md"
    text_decoding.render([write_csv(tmp_path / "snap.csv", rows)], out, {"defense": "none", "source_claim": None})
    text = out.read_text()
    (table,) = markdown_tables(text)
    assert [(r["iteration"], r["decoded tokens"]) for r in table] == [
        ("Iters=0", "a bc"), ("Iters=10", "jim xson"), ("Iters=20", "jim henson"), ("Iters=27", "jim henson"),
        ("Original text", "[CLS] jim henson [SEP]")]
    assert "noisy" not in text and "wiki_1" not in text


def test_text_decoding_puts_the_slides_text_beside_the_same_iteration(tmp_path):
    """The slides' own snapshots (claims file, text_bert_30) sit in the row of the same iteration; the
    Henson slide's unnumbered rows come as labelled rows of their own."""
    from sharegrad.claims import claim

    slides = claim("text_bert_30")["paper"]["snapshots"]
    rows = [snapshot("slide_registration", s, f"ours{s}") for s in (0, 10, 20, 30, 40)]
    rows += [snapshot("slide_henson", s, f"hen{s}") for s in (0, 10)]
    out = tmp_path / "decoding.md"
    text_decoding.render([write_csv(tmp_path / "snap.csv", rows)], out, {"defense": "none"})
    henson, registration = markdown_tables(out.read_text())
    source = "the source's text (claim text_bert_30)"
    by_iteration = {r["iteration"]: (r["decoded tokens"], r[source]) for r in registration}
    for step in (0, 10, 20, 30):
        assert by_iteration[f"Iters={step}"] == (f"ours{step}", text_decoding.words(slides["slide_registration"][str(step)]))
    assert by_iteration["Iters=40"] == ("ours40", "")
    assert [r["iteration"] for r in henson][:2] == ["Iters=0", "Iters=10"]
    labels = [r["iteration"] for r in henson if r["iteration"].startswith("source: ")]
    assert labels == [f"source: {key}" for key in slides["slide_henson"]]
