#!/usr/bin/env bash
# Runs the test suite on a fresh machine: installs what it needs, runs pytest, then the
# end-to-end command checks of scripts/smoke.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q "$@"
bash scripts/smoke.sh
