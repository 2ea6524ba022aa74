#!/usr/bin/env bash
# Rebuild models/intent from the data with fixed seeds (used by `make models`).
#   vocab -> held-out files -> golden tokens -> (MLM pre-training) -> fine-tune -> export -> golden logits
# Environment knobs:
#   INTENT_LAYERS / INTENT_HIDDEN / INTENT_EPOCHS   size and length of the default model
#   INTENT_PRETRAIN_STEPS                           MLM steps run (0 disables pre-training); the LR
#                                                   schedule spans INTENT_PRETRAIN_SCHEDULE steps
#   INTENT_THREADS                                  torch threads (1 is fastest on a shared 2-core box)
#   INTENT_MODEL_DIR                                output folder (default models/intent)
#   INTENT_RUN                                      checkpoint folder (default artifacts/intent/l<L>h<H>)
#   INTENT_INIT                                     start fine-tuning from this checkpoint instead of MLM
#                                                   pre-training (an MLM state dict, or a fine-tuned model.pt
#                                                   with fewer labels: its classifier rows are kept, new labels
#                                                   appended); INTENT_LR: fine-tuning learning rate (default 1e-3)
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$(cd .. && pwd)"
PY=/usr/bin/python3
if ! "$PY" -c 'import torch, onnx' 2>/dev/null; then
  echo "installing python3-torch python3-onnx (apt)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update && $SUDO apt-get install -y python3-torch python3-onnx libopenblas0-pthread
fi
export OMP_NUM_THREADS="${INTENT_THREADS:-1}" OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0
LAYERS="${INTENT_LAYERS:-2}"; HIDDEN="${INTENT_HIDDEN:-128}"; EPOCHS="${INTENT_EPOCHS:-12}"
PRE="${INTENT_PRETRAIN_STEPS:-2214}"; PRE_SCHED="${INTENT_PRETRAIN_SCHEDULE:-4000}"
RUN="${INTENT_RUN:-artifacts/intent/l${LAYERS}h${HIDDEN}}"
OUT="${INTENT_MODEL_DIR:-$ROOT/models/intent}"
mkdir -p "$OUT"
mkdir -p "$ROOT/$RUN"
t() { local s=$SECONDS; "$@"; echo "  [$(( SECONDS - s ))s] $*"; }

echo "== vocabulary";      t "$PY" -m shopassist_training.vocab --size 8000 --out "$OUT/vocab.txt"
echo "== held-out files";  t "$PY" -c 'from shopassist_training import data; data.write_heldout()'
echo "== golden tokens";   t "$PY" -m shopassist_training.golden --tokens --model-dir "$OUT"
INIT=()
LR="${INTENT_LR:-1e-3}"
if [ -n "${INTENT_INIT:-}" ]; then
  INIT=(--init "$INTENT_INIT")
elif [ "$PRE" != 0 ]; then
  echo "== MLM pre-training"
  t "$PY" -m shopassist_training.pretrain --layers "$LAYERS" --hidden "$HIDDEN" --steps "$PRE_SCHED" --max-steps "$PRE" --vocab "$OUT/vocab.txt" --out "$ROOT/$RUN/mlm.pt"
  INIT=(--init "$ROOT/$RUN/mlm.pt")
fi
echo "== fine-tuning";     t "$PY" -m shopassist_training.train --layers "$LAYERS" --hidden "$HIDDEN" --epochs "$EPOCHS" --lr "$LR" --vocab "$OUT/vocab.txt" "${INIT[@]}" --out "$ROOT/$RUN"
echo "== export + golden logits"; t "$PY" -m shopassist_training.export --run "$ROOT/$RUN" --out "$OUT"
echo "$RUN" > "$OUT/SOURCE_RUN"
echo "== parity: run 'make test' (Go compares its logits/tokens with models/intent/golden)"
echo "total ${SECONDS}s"
