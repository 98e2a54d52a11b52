#!/usr/bin/env bash
# Regenerates the report screenshots in docs/ from the README's quick-start reports.
# Needs Debian's chromium (apt-get install chromium) and the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
mkdir -p out
hc=target/release/heapcost
$hc report -q -b fixtures/mini-envoy/mini-envoy --symbols-path fixtures/mini-envoy \
  --base fixtures/mini-envoy/mini-envoy.0002.heap fixtures/mini-envoy/mini-envoy.0003.heap \
  -o out/mini-envoy.html --markdown out/mini-envoy.md
$hc report -q ../shared/corpus/envoy-1.34-ext-proc-full-duplex/envoy.prof.*.heap \
  -o out/corpus.html --markdown out/corpus.md
shot() { chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size="$3" --screenshot="$2" "file://$PWD/$1" >/dev/null 2>&1; }
shot out/mini-envoy.html docs/report-mini-envoy.png 1400,3000
shot out/corpus.html docs/report-corpus.png 1400,2100
ls -l docs/*.png
