"""What the Snakemake rules ask of a config, importable and tested without Snakemake.

One module per rule file, named after it: ``workflow/rules/dlg.smk`` binds
``sharegrad.pipeline.dlg`` to the loaded config, and so on for every file in
``workflow/rules/`` (``common`` holds what they share, including the config checks the
Snakefile runs first). The rule files stay thin: inputs, outputs, and a ``sharegrad`` CLI call.
"""
