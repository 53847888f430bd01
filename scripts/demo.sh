#!/usr/bin/env bash
# The main job on a fresh machine: installs what it needs, then runs `msgld demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/msgld demo "$@"
