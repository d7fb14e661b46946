#!/usr/bin/env bash
# Screenshot of an HTML page in Debian's headless Chromium:
#   docs/screenshot.sh PAGE.html OUT.png [WIDTHxHEIGHT] [CATEGORY]
# With CATEGORY, PAGE is a Snakemake report and the shot shows its menu of
# categories and that category's first item open (the report is a script-built page that no URL can open at an
# item, so a copy of it gets a script that opens it once the page has drawn).
# Installs chromium with apt-get when it is missing and this is root.
set -euo pipefail
usage="usage: $0 PAGE.html OUT.png [WIDTHxHEIGHT] [CATEGORY]"
page=$(realpath "${1:?$usage}")
out=$(realpath -m "${2:?$usage}")
size=${3:-1400x1800}
category=${4:-}
if ! command -v chromium >/dev/null; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || { echo "screenshot.sh: no chromium (apt-get install chromium)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/profile"
shot=$page
if [ -n "$category" ]; then
  shot=$scratch/page.html
  # `app`, `categories` and `results` are the report's own globals (Snakemake 9's html_reporter).
  { cat "$page"; cat <<SCRIPT
<script>
setTimeout(function () {
  var category = $(printf '%s' "$category" | python3 -c 'import json, sys; print(json.dumps(sys.stdin.read()))');
  if (typeof categories === "undefined" || !(category in categories)) { document.title = "no category " + category; return; }
  var subcategory = Object.keys(categories[category]).sort()[0];
  var path = categories[category][subcategory][0];
  var mime = results[path].mime_type;
  // the menu (every category of the report) on the left, the item on the right
  app.setView({navbarMode: "menu", category: category, subcategory: subcategory, resultPath: path,
               content: mime === "text/html" ? "html" : "img", contentPath: results[path].data_uri});
}, 1000);
</script>
SCRIPT
  } > "$shot"
fi
# The network is closed here: without the background-networking flags Chromium
# keeps trying Google's hosts. Virtual time lets the page's scripts draw before the shot.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$scratch/profile" --hide-scrollbars \
  --window-size="${size/x/,}" --virtual-time-budget=15000 --screenshot="$out" "file://$shot" 2>/dev/null
test -s "$out"
echo "wrote $out"
