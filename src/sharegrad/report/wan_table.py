"""Table: scalability at the paper's link conditions: measured at paper scale (emulated: the paper's
payload through the link, its compute per step) with the projection from the same inputs beside each row
and their ratio; the latency sweep at delay 20; measured on a small model (CPU) with the model's
prediction; the model at paper scale, the paper's figures, and accuracy from the DTS sweep.

CSVs: wan.csv (measured points), wan_projection.csv (paper scale), and optionally dtc.csv.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from sharegrad.claims import claim, paper_value
from sharegrad.report import register_figure
from sharegrad.report.style import write_text
from sharegrad.report.wan_common import machine_note
from sharegrad.wan.tables import largest_latency_within, latency_sweeps

# Which options of a method the DTS sweep's rows must match.
MATCH = {"sync": (), "dgc": ("ratio",), "delayed": ("delay",), "sparse": ("period",),
         "delayed_sparse": ("delay", "period"), "localsgd": ("period", "warmup_steps"),
         "powersgd": ("powersgd_rank", "warmup_steps"),
         "delayed_sparse_topk": ("delay", "period", "ratio"), "diloco": ("period",),
         "streaming_diloco": ("period", "fragments", "overlap")}


def accuracy_cell(row: pd.Series, dtc: pd.DataFrame | None) -> str:
    if dtc is None:
        return "no DTS sweep"
    if row.method not in MATCH:
        return "not in the DTS sweep"
    part = dtc[(dtc.method == row.method) & (dtc.defense == "none")]
    for key in MATCH[row.method]:
        if key in part and key in row and pd.notna(row[key]):
            part = part[part[key].astype(float) == float(row[key])]
    if part.empty:
        return "not in the DTS sweep"
    cells = []
    # A sweep CSV without a setup column (benchmarks/dtc_digits_acceptance.py) is one setup: name it.
    setups = part.groupby("setup") if "setup" in part else [(f"{part.dataset.iloc[0]}/{part.model.iloc[0]}", part)]
    for setup, runs in setups:
        acc = 100 * runs.final_test_accuracy
        spread = f" ± {acc.std():.1f}" if len(acc) > 1 else ""
        cells.append(f"{setup}: {acc.mean():.1f}%{spread} ({len(acc)} seed{'s' if len(acc) > 1 else ''})")
    return "; ".join(cells)


def paper_scale_section(paper: pd.DataFrame, latency: float, bandwidth: float) -> list[str]:
    first = paper.iloc[0]
    real = 1000 * paper.real_compute_per_step_s.astype(float)
    lines = ["## Measured at paper scale (emulated) with the projection beside each row", "",
             f"{int(first.world_size)} ranks, {latency:g} ms, {bandwidth:g} Mb/s; a payload of "
             f"{first.payload_parameters / 1e6:.1f}M parameters: every collective of the {first.model}'s "
             f"gradients, weights or momentum is scaled {first.payload_scale:.0f}x and real zero-filled tensors "
             f"make up the bytes, so bytes and waits are measured. Compute: each rank's real forward+backward "
             f"({real.min():.0f}-{real.max():.0f} ms) is padded by a timed wait to {first.compute_s:g} s per step "
             f"({int(paper.compute_overrun_steps.sum())} measured steps overran it); the method's arithmetic on "
             f"the real model comes on top (compute/step measured). {machine_note(paper)}.", "",
             "Projected: the analytic model fed only the stated inputs (compute per step, L, B, N, the bytes one "
             "sync puts on the link); projected / measured is 1 where the emulation measured what the model "
             "projects. Top-k DTS (1%) is charged as it is sent (a sum all-reduce of one slot per rank) and, "
             "marked all-gather, as the all-gather of the slots it stands for: half the ring bytes at 4 ranks, "
             "what a deployment gathering indices and values sends.", "",
             "| method | MB on the wire per step | compute/step stated (s) | compute/step measured (s) | step (s) "
             "| scalability measured | projected | projected / measured | wait/step measured (s) "
             "| wait/step model (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for _, row in paper.iterrows():
        lines.append(f"| {row['name']} | {row.wire_bytes_per_step / 1e6:.2f} | {row.compute_s:g} | "
                     f"{row.compute_per_step_s:.3f} | {row.step_s:.3f} | {row.scalability:.3f} | "
                     f"{row.projected_scalability:.3f} | {row.projected_over_measured:.2f} | "
                     f"{row.wait_per_step_s:.3f} | {row.model_wait_per_step_s:.3f} |")
    return lines + [""]


def sweep_section(key: dict, rows: pd.DataFrame) -> list[str]:
    first = rows.iloc[0]
    reference = float(rows.scalability[rows.latency_ms == 0].mean())
    lines = [f"## Latency sweep: {key['name']} with {key['compute_s']:g} s of compute per step", "",
             f"{int(key['world_size'])} ranks, {key['bandwidth_mbps']:g} Mb/s, the {first.model}'s own payload "
             f"({first.wire_bytes_per_step / 1e3:.0f} kB on the wire per step: bytes do not decide here); each "
             f"forward+backward padded to {key['compute_s']:g} s. {machine_note(rows)}.", "",
             "| latency (s) | scalability measured | / zero latency | model | wait/step measured (s) |",
             "|---|---|---|---|---|"]
    for _, row in rows.iterrows():
        lines.append(f"| {row.latency_ms / 1000:g} | {row.scalability:.3f} | {row.scalability / reference:.2f} | "
                     f"{row.model_scalability:.3f} | {row.wait_per_step_s:.3f} |")
    fraction = _sweep_fraction()
    if fraction is not None:
        held, failed = largest_latency_within(rows, fraction)
        below = f"first below it at {failed:g} s" if failed is not None else "none of the swept latencies below it"
        lines += ["", f"Largest swept latency whose scalability stays within {fraction:g} x the zero-latency one: "
                      f"{held:g} s ({below}); the slides: {paper_value('delay20_hides_6s'):g} s."]
    return lines + [""]


def _sweep_fraction() -> float | None:
    """The fraction of the zero-latency scalability delay20_hides_6s holds a latency to (claims file)."""
    try:
        return claim("delay20_hides_6s")["rule"].get("factor")
    except Exception:  # a claims file without that claim: the table still renders
        return None


def _fmt(value: float, digits: int = 3) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


@register_figure("wan_table", section="wan", subcategory="WAN", table=True,
                 title="Methods on one link, measured and projected to paper scale (table)",
                 # the accuracy column, where this config trains too
                 inputs=lambda config: ["wan.csv", "wan_projection.csv"] + (["dtc.csv"] if "dtc" in config else []),
                 options=lambda config: {k: config["wan"]["table"][k] for k in ("latency_ms", "bandwidth_mbps")})
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    points, projection = pd.read_csv(csv_paths[0]), pd.read_csv(csv_paths[1])
    dtc = pd.read_csv(csv_paths[2]) if len(csv_paths) > 2 else None
    latency, bandwidth = float(options.get("latency_ms", 300)), float(options.get("bandwidth_mbps", 15))
    at_link = points[(points.latency_ms == latency) & (points.bandwidth_mbps == bandwidth)]
    emulated = pd.to_numeric(at_link.get("compute_s", pd.Series(math.nan, index=at_link.index)),
                             errors="coerce").notna()
    paper, here = at_link[emulated], at_link[~emulated]
    lines = [f"# Training across the world at {latency:g} ms and {bandwidth:g} Mb/s "
             f"(config `{options.get('config', '?')}`)", "",
             "**What this sample can and cannot show:** one measured run per point, of a few steps, on this "
             "machine (its cores and load are recorded): it shows where each method waits on the link and whether "
             "the model predicts that wait, not a scalability finer than the machine's load makes it vary.", ""]

    if not paper.empty:
        lines += paper_scale_section(paper, latency, bandwidth)
    for key, rows in latency_sweeps(points):
        lines += sweep_section(key, rows)

    lines += ["## Measured: small model over the emulated link (not the paper's scale)", ""]
    if here.empty:
        lines += [f"No measured point at {latency:g} ms, {bandwidth:g} Mb/s in this config.", ""]
    else:
        first = here.iloc[0]
        lines += ["The digits CNN at its own size (38k parameters) with its real compute per step (a few ms): "
                  "a delay or period of 20 steps covers well under 300 ms of compute, so these rows cannot hide "
                  "the paper's latency; the ledger counts them as inconclusive for the paper's claims, never as "
                  "refuting them.", "",
                  f"{first.model}, batch {int(first.batch_size)} per rank, {machine_note(here)}; "
                  f"one rank alone measured before each point. The model gets L, B, N, the method's bytes, t and "
                  f"p, and a measured compute time; nothing is fitted.", "",
                  "Model: fed the N-rank run's compute per step (tests the predicted wait); model (solo): fed "
                  "the single-rank step time (also carries what the N ranks lose to sharing the cores).", "",
                  "| method | steps/s (N) | compute/step N ranks (ms) | step 1 rank (ms) | scalability measured "
                  "| model | measured vs model | model (solo) | measured vs model (solo) | wait/step measured (ms) "
                  "| wait/step model (ms) | bytes on the wire per step | accuracy (DTS sweep) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for _, row in here.iterrows():
            lines.append(
                f"| {row['name']} | {row.steps_per_s:.2f} | {1000 * row.compute_per_step_s:.1f} | "
                f"{1000 * row.single_rank_step_s:.1f} | {row.scalability:.3f} | {row.model_scalability:.3f} | "
                f"{100 * row.scalability_vs_model:+.0f}% | {row.model_scalability_solo_compute:.3f} | "
                f"{100 * row.scalability_vs_solo_model:+.0f}% | {1000 * row.wait_per_step_s:.1f} | "
                f"{1000 * row.model_wait_per_step_s:.1f} | {row.wire_bytes_per_step:,.0f} | "
                f"{accuracy_cell(row, dtc)} |")
        lines.append("")

    p = projection.iloc[0]
    lines += ["## Projected: the model at paper scale", "",
              f"Inputs (documented, not measured): {int(p.servers)} servers, {p.parameters / 1e6:.1f}M parameters "
              f"({p.model_mb:.1f} MB fp32), {p.latency_ms:g} ms, {p.bandwidth_mbps:g} Mb/s, compute "
              f"{p.compute_s_per_step:g} s per step ({p.compute_source}). Ring all-reduce volume among the servers; "
              f"top-k as an all-gather of float32 values and int32 indices.", "",
              "| method | MB on the wire per sync | T_comm per sync (s) | step (s) | scalability projected | paper "
              f"| largest latency hidden at {p.bandwidth_mbps:g} Mb/s (s) | at {p.fast_bandwidth_mbps:g} Mb/s (s) |",
              "|---|---|---|---|---|---|---|---|"]
    for _, row in projection.iterrows():
        lines.append(f"| {row['name']} | {row.wire_mb_per_sync:.2f} | {row.comm_s_per_sync:.2f} | {row.step_s:.2f} | "
                     f"{row.scalability:.3f} | {_fmt(row.paper_scalability, 2)} | {row.hidden_latency_s:.2f} | "
                     f"{row.hidden_latency_s_fast:.2f} |")
    delayed = projection[projection.method == "delayed"]
    if len(delayed):
        d = delayed.iloc[0]
        lines += ["", f"Delay {int(d.delay)} hides up to {d.hidden_latency_s_fast:.2f} s of latency at "
                  f"{d.fast_bandwidth_mbps:g} Mb/s with {d.compute_s_per_step:g} s of compute per step "
                  f"(the slides: {d.slides_hidden_latency_s:g} s, which with delay {int(d.delay)} needs "
                  f"{d.slides_hidden_latency_s / max(1, d.delay):.2f} s of compute per step). At "
                  f"{d.bandwidth_mbps:g} Mb/s a dense delayed update is bandwidth-bound and hides nothing."]
    write_text(output, "\n".join(lines) + "\n")
