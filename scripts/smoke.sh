#!/usr/bin/env bash
# End-to-end commands on a fresh machine (run by scripts/test.sh after the unit tests):
# a small SynthSlakh folder on the Debian-free renderer, its check, and the reference rows of
# the separation evaluation on it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
msgld=.venv/bin/msgld
$msgld data synth --out "$tmp/synth" --tracks 4 --seed 0 --workers 2 --backend tinysoundfont --duration-range 12 14 --quiet
$msgld data check "$tmp/synth" --quiet
split=$(ls "$tmp/synth" | grep -E '^(test|validation|train)$' | sort | tail -1)  # test if present
for method in mixture oracle-mel-mask; do
  $msgld evaluate separation --data "$tmp/synth" --split "$split" --method "$method" --out "$tmp/$method.json" --no-progress
done
echo "smoke: 2 passed, 0 failed"
