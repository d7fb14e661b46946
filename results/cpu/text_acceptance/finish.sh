#!/bin/bash
# Aggregate the text attack's CPU acceptance run and render its tables and figure from the CSVs.
cd "$(dirname "$0")/../../.." && source .venv/bin/activate
R=results/cpu/text_acceptance
sharegrad aggregate-dlg-text $R/model~* --out $R/text.csv --snapshots $R/text_snapshots.csv
sharegrad figure text_summary --csv $R/text.csv --out $R/text_summary.md --options '{"config": "text attack CPU acceptance"}'
sharegrad figure text_decoding --csv $R/text_snapshots.csv --out $R/text_decoding.md --options '{"every": 1}'
sharegrad figure text_length --csv $R/text.csv --out $R/text_length.png --options '{}'
