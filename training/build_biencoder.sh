#!/usr/bin/env bash
# Rebuild models/biencoder from the Icecat catalogue with fixed seeds.
#   catalogue dump (Go: the exact product texts Go embeds) -> vocabulary -> MLM pre-training
#   -> contrastive stage 1 (texts cut to 40 tokens) -> stage 2 (64 tokens, lower LR)
#   -> export (model.onnx, config.json, golden.jsonl)
# No dev query or judgment is read. Environment knobs:
#   BIENC_LAYERS / BIENC_HIDDEN                  size (default 2 / 128; 64 positions)
#   BIENC_MLM_STEPS / BIENC_MLM_MAX_STEPS        MLM schedule length / steps actually run (1500 / 1220)
#   BIENC_STEPS / BIENC_MAX_STEPS                stage 1 schedule length / steps run (1400 / 1293)
#   BIENC_STEPS2                                 stage 2 steps (700)
#   BIENC_HARD_FRAC / BIENC_QPD                  share of BM25 hard negatives per batch (0.25), pseudo-queries
#                                                per product per step (3)
# (the "steps run" defaults are where the committed model's runs stopped on their wall-time caps)
#   BIENC_MLM_MINUTES / BIENC_MINUTES            wall-time caps of the two trainings (0: none)
#   BIENC_SYNONYMS                               1 (default): swap in bienc_data.SYNONYMS in pseudo-queries
#   BIENC_THREADS                                torch threads (default 2)
#   BIENC_MODEL_DIR / BIENC_RUN                  output folder / checkpoint folder
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$(cd .. && pwd)"
PY=/usr/bin/python3
if ! "$PY" -c 'import torch, onnx' 2>/dev/null; then
  echo "installing python3-torch python3-onnx (apt)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update && $SUDO apt-get install -y python3-torch python3-onnx libopenblas0-pthread
fi
THREADS="${BIENC_THREADS:-2}"
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0
LAYERS="${BIENC_LAYERS:-2}"; HIDDEN="${BIENC_HIDDEN:-128}"
MLM_STEPS="${BIENC_MLM_STEPS:-1500}"; MLM_MAX="${BIENC_MLM_MAX_STEPS:-1220}"
STEPS="${BIENC_STEPS:-1400}"; MAX_STEPS="${BIENC_MAX_STEPS:-1293}"; STEPS2="${BIENC_STEPS2:-700}"
HARD="${BIENC_HARD_FRAC:-0.25}"; QPD="${BIENC_QPD:-3}"
MLM_MIN="${BIENC_MLM_MINUTES:-0}"; MIN="${BIENC_MINUTES:-0}"
RUN="${BIENC_RUN:-$ROOT/artifacts/biencoder/l${LAYERS}h${HIDDEN}}"
OUT="${BIENC_MODEL_DIR:-$ROOT/models/biencoder}"
PRODUCTS="$ROOT/artifacts/biencoder/products.jsonl"
mkdir -p "$OUT" "$RUN" "$(dirname "$PRODUCTS")"
t() { local s=$SECONDS; "$@"; echo "  [$(( SECONDS - s ))s] $*"; }

echo "== catalogue dump (go run training/tools/dump_products.go)"
(cd "$ROOT" && go run training/tools/dump_products.go > "$PRODUCTS")
echo "  $(wc -l < "$PRODUCTS") products"
echo "== vocabulary"
t "$PY" -m shopassist_training.bienc_vocab --products "$PRODUCTS" --size 10000 --out "$OUT/vocab.txt"
echo "== MLM pre-training"
t "$PY" -m shopassist_training.bienc_pretrain --products "$PRODUCTS" --vocab "$OUT/vocab.txt" --layers "$LAYERS" \
  --hidden "$HIDDEN" --max-length 64 --steps "$MLM_STEPS" --max-steps "$MLM_MAX" --minutes "$MLM_MIN" --threads "$THREADS" --out "$RUN/mlm.pt"
COMMON=(--products "$PRODUCTS" --vocab "$OUT/vocab.txt" --layers "$LAYERS" --hidden "$HIDDEN" --max-position 64
  --hard-frac "$HARD" --queries-per-doc "$QPD" --synonyms "${BIENC_SYNONYMS:-1}" --threads "$THREADS" --minutes "$MIN")
echo "== contrastive training, stage 1 (40 tokens)"
t "$PY" -m shopassist_training.bienc_train "${COMMON[@]}" --init "$RUN/mlm.pt" --max-length 40 --steps "$STEPS" \
  --max-steps "$MAX_STEPS" --lr 5e-4 --seed 7 --out "$RUN/stage1"
echo "== contrastive training, stage 2 (64 tokens)"
t "$PY" -m shopassist_training.bienc_train "${COMMON[@]}" --init "$RUN/stage1/model.pt" --max-length 64 --steps "$STEPS2" \
  --lr 2e-4 --seed 8 --out "$RUN"
echo "== export + golden vectors"
t "$PY" -m shopassist_training.bienc_export --products "$PRODUCTS" --run "$RUN" --out "$OUT"
echo "${RUN#"$ROOT/"}" > "$OUT/SOURCE_RUN"
echo "== evaluate: go run ./cmd/assistant eval search --judgments training/data/icecat_judgments_dev.csv --mode hybrid --model-dir ${OUT#"$ROOT/"}"
echo "total ${SECONDS}s"
