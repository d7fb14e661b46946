# Every figure and table of the config: one rule per figure registered in
# sharegrad/report/ (sharegrad.pipeline.figures), from what its module
# declares: the aggregated CSVs it reads, the section that turns it on, its
# report title, caption and options. Adding a figure is adding its module.
# Each reads only aggregated CSVs, so it rebuilds without rerunning any attack
# or training job. Included after every stage, so each stage's CSVs have rules.

import json

from sharegrad.pipeline.figures import caption_file, pipeline_figures

for _spec in pipeline_figures(config):
    for _stem, _options in _spec.outputs(config).items():
        _title = _spec.title + (f": {_stem[len(_spec.name) + 1:]}" if _stem != _spec.name else "")
        _report = dict(
            caption=caption_file(_spec), category=_spec.paper(), subcategory=_spec.subcategory, labels=shown(_title)
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
