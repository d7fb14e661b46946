#!/usr/bin/env bash
# Screenshot of an HTML page (the Snakemake report) in Debian's headless
# Chromium: docs/screenshot.sh report.html docs/report_smoke.png [WIDTHxHEIGHT]
# Installs chromium with apt-get when it is missing and this is root.
set -euo pipefail
page=$(realpath "${1:?usage: $0 PAGE.html OUT.png [WIDTHxHEIGHT]}")
out=$(realpath -m "${2:?usage: $0 PAGE.html OUT.png [WIDTHxHEIGHT]}")
size=${3:-1400x1800}
if ! command -v chromium >/dev/null; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || { echo "screenshot.sh: no chromium (apt-get install chromium)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# The network is closed here: without the background-networking flags Chromium
# keeps trying Google's hosts. The report is a script-built page, so give its
# scripts virtual time to draw before the shot.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
  --window-size="${size/x/,}" --virtual-time-budget=15000 --screenshot="$out" "file://$page" 2>/dev/null
test -s "$out"
echo "wrote $out"
