# Every figure and table of the config: one rule per figure registered in
# sharegrad/report/ (sharegrad.report.pipeline_figures), from what its module
# declares: the aggregated CSVs it reads, the section that turns it on, its
# report title, caption and options. Adding a figure is adding its module.
# Each reads only aggregated CSVs, so it rebuilds without rerunning any attack
# or training job. Included after every stage, so each stage's CSVs have rules.

import json
import os

from sharegrad.report import pipeline_figures


def _caption(spec):
    """The module's caption text, written where the report reads it; else workflow/report/NAME.rst."""
    if spec.caption is None:
        return f"../report/{spec.name}.rst"
    path = os.path.abspath(f".snakemake/sharegrad_captions/{spec.name}.rst")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path) or open(path).read() != spec.caption:
        with open(path, "w") as handle:
            handle.write(spec.caption)
    return path


for _spec in pipeline_figures(config):
    for _stem, _options in _spec.outputs(config).items():
        _title = _spec.title + (f": {_stem[len(_spec.name) + 1:]}" if _stem != _spec.name else "")
        _report = dict(
            caption=_caption(_spec), category=_spec.paper(), subcategory=_spec.subcategory, labels=shown(_title)
        )
        if _spec.table:
            ALL_TARGETS.extend([f"{FIGURES}/{_stem}.md", f"{FIGURES}/{_stem}.html"])

            rule:
                name:
                    f"figure_{_stem}"
                input:
                    [f"{RESULTS}/{path}" for path in _spec.input_files(config)],
                output:
                    table=f"{FIGURES}/{_stem}.md",
                    html=report(f"{FIGURES}/{_stem}.html", **_report),
                log:
                    f"{LOGS}/figures/{_stem}.log",
                conda:
                    CONDA_ENV
                params:
                    name=_spec.name,
                    options=json.dumps(_options),
                shell:
                    "sharegrad figure {params.name} --csv {input} --out {output.table} --html {output.html}"
                    " --options {params.options:q} > {log} 2>&1"

        else:
            ALL_TARGETS.append(f"{FIGURES}/{_stem}.png")

            rule:
                name:
                    f"figure_{_stem}"
                input:
                    [f"{RESULTS}/{path}" for path in _spec.input_files(config)],
                output:
                    report(f"{FIGURES}/{_stem}.png", **_report),
                log:
                    f"{LOGS}/figures/{_stem}.log",
                conda:
                    CONDA_ENV
                params:
                    name=_spec.name,
                    options=json.dumps(_options),
                shell:
                    "sharegrad figure {params.name} --csv {input} --out {output} --options {params.options:q} > {log} 2>&1"
