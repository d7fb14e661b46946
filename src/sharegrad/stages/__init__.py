"""Pipeline stages: what one Snakemake rule runs, importable and testable without Snakemake."""
