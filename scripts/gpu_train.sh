#!/usr/bin/env bash
# For a lent GPU machine (never needed): make SynthSlakh from code there (no audio to copy),
# encode it with the shipped VAE, train the best recipe at a larger size for a fixed wall
# time, and export the EMA weights (fp16) plus a packed model folder to OUT.
#
#   bash scripts/gpu_train.sh OUT [MINUTES]       # env: HOURS (data, default 4), CONFIG (small-v),
#                                                 #      DEVICE (cuda), WORK (scratch), PYTHON
# Tested on CPU with: HOURS=0.03 DEVICE=cpu CONFIG=tiny-v bash scripts/gpu_train.sh /tmp/g 0.5
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: gpu_train.sh OUT [MINUTES]}
MINUTES=${2:-8}
HOURS=${HOURS:-4}
CONFIG=${CONFIG:-small-v}
DEVICE=${DEVICE:-cuda}
WORK=${WORK:-$(mktemp -d)}
PY=${PYTHON:-}
if [ -z "$PY" ]; then [ -x .venv/bin/python ] && PY=.venv/bin/python || PY=python3; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
msgld() { "$PY" -m msgld "$@"; }
accel=$([ "$DEVICE" = cpu ] && echo cpu || echo gpu)
workers=$(nproc)

echo "gpu_train: $HOURS h of data, config $CONFIG, $MINUTES min on $DEVICE, scratch $WORK"
msgld data synth --out "$WORK/synth" --hours "$HOURS" --seed 11 --workers "$workers" --quiet
msgld data encode --data "$WORK/synth" --out "$WORK/latents" --device "$DEVICE" --quiet
msgld train ldm --data "$WORK/latents" --config "$CONFIG" --out "$WORK/run" --max-minutes "$MINUTES" \
  --max-steps 1000000 --accelerator "$accel" --bf16 --no-progress
msgld train export "$WORK/run" --which last --to "$OUT/weights"
shipped=msgld/pretrained/msgld-tiny
msgld model pack --vae "$shipped/vae" --ldm "$OUT/weights/ldm" --vocoder "$shipped/vocoder" --half ldm \
  --out "$OUT/model"
cp "$WORK/run/config.json" "$OUT/run-config.json"
echo "gpu_train: model folder $OUT/model (evaluate: msgld evaluate separation --data D --model $OUT/model ...)"
