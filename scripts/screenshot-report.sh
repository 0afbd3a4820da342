#!/usr/bin/env bash
# Renders a qsafe-report HTML page to a PNG with headless Chromium (Debian's `chromium`, installed
# with apt-get when missing) - the check that the report renders in a real browser, and the
# picture docs/report.md shows. Not part of the default test run (Chromium is slow to start in CI).
#
#   scripts/screenshot-report.sh [REPORT.html [OUT.png [WIDTHxHEIGHT]]]
#     defaults: build/report/report.html (what scripts/run.sh writes), docs/report.png, 1200x2400
#
# Fails (non-zero) if Chromium cannot render the page or the PNG is missing or empty.
set -euo pipefail
cd "$(dirname "$0")/.."
html=${1:-build/report/report.html}
png=${2:-docs/report.png}
size=${3:-1200x2400}
[ -f "$html" ] || { echo "screenshot-report: $html: no such file (run scripts/run.sh first)" >&2; exit 1; }
if ! command -v chromium >/dev/null 2>&1; then
  scripts/install-deps.sh chromium
fi
abs_html=$(realpath "$html")
mkdir -p "$(dirname "$png")"
tmp_png=$(mktemp --suffix=.png)
profile=$(mktemp -d)
trap 'rm -rf "$profile" "$tmp_png"' EXIT
# --screenshot writes the first WIDTHxHEIGHT pixels of the page; --hide-scrollbars keeps them clean.
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --user-data-dir="$profile" --hide-scrollbars --window-size="${size/x/,}" \
  --screenshot="$tmp_png" "file://$abs_html" >/dev/null 2>&1 || {
  echo "screenshot-report: chromium failed to render $html" >&2
  exit 1
}
[ -s "$tmp_png" ] || { echo "screenshot-report: chromium wrote no image for $html" >&2; exit 1; }
# Shrink the PNG when the tools for it exist (the committed docs picture should stay small).
if command -v pngquant >/dev/null 2>&1; then
  pngquant --force --quality=60-90 --output "$tmp_png" -- "$tmp_png" || true
fi
cp "$tmp_png" "$png"
echo "screenshot-report: $html -> $png ($(stat -c %s "$png") bytes)"
