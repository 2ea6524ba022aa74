#!/usr/bin/env bash
# Rebuild models/reranker (cross-encoder) with fixed seeds, after build_biencoder.sh:
#   it shares models/biencoder/vocab.txt and starts from the bi-encoder's trained weights.
#   weak labels from the catalogue (rerank_train) -> export (model.onnx, config.json, golden.jsonl)
#   -> int8 copy for CPU (quantize.py: model.int8.onnx)
#   -> PyTorch-side nDCG@10 of reranking the top-50 hybrid candidates (rerank_eval)
# Environment knobs:
#   RERANK_MAXLEN      tokens per (query, product) pair (default 32)
#   RERANK_QUERIES     weak-label queries (groups of RERANK_GROUP products; default 24000 x 8)
#   RERANK_DEV_TRAIN   1: also train on data/icecat_judgments_dev_train.csv (default 0; the holdout
#                      split data/icecat_judgments_dev_holdout.csv is never trained on)
#   RERANK_THREADS     torch threads (default 1, as the committed model was trained)
#   RERANK_MODEL_DIR / RERANK_RUN / BIENC_MODEL_DIR   output folder / checkpoint folder / bi-encoder folder
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$(cd .. && pwd)"
PY=/usr/bin/python3
THREADS="${RERANK_THREADS:-1}"
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0
MAXLEN="${RERANK_MAXLEN:-32}"; QUERIES="${RERANK_QUERIES:-24000}"; GROUP="${RERANK_GROUP:-8}"
BIENC="${BIENC_MODEL_DIR:-$ROOT/models/biencoder}"
RUN="${RERANK_RUN:-$ROOT/artifacts/reranker/l2h128_len${MAXLEN}}"
OUT="${RERANK_MODEL_DIR:-$ROOT/models/reranker}"
PRODUCTS="$ROOT/artifacts/biencoder/products.jsonl"
mkdir -p "$OUT" "$RUN"
t() { local s=$SECONDS; "$@"; echo "  [$(( SECONDS - s ))s] $*"; }
if [ ! -s "$PRODUCTS" ]; then
  (cd "$ROOT" && go run training/tools/dump_products.go > "$PRODUCTS")
fi
BIENC_RUN="$(cat "$BIENC/SOURCE_RUN")"
case "$BIENC_RUN" in /*) ;; *) BIENC_RUN="$ROOT/$BIENC_RUN" ;; esac
DEV=()
[ "${RERANK_DEV_TRAIN:-0}" = 1 ] && DEV=(--dev-train)

echo "== dev judgments split (md5 of the query)"
t "$PY" -c 'from shopassist_training import judgments; print("train/holdout queries:", judgments.split_dev())'
cp "$BIENC/vocab.txt" "$OUT/vocab.txt"
echo "== training (weak labels${DEV:+ + dev train split})"
t "$PY" -m shopassist_training.rerank_train --products "$PRODUCTS" --vocab "$OUT/vocab.txt" --init "$BIENC_RUN/model.pt" \
  --max-length "$MAXLEN" --queries "$QUERIES" --group "$GROUP" --threads "$THREADS" "${DEV[@]}" --out "$RUN"
echo "== export + golden scores"
t "$PY" -m shopassist_training.rerank_export --products "$PRODUCTS" --run "$RUN" --out "$OUT"
echo "${RUN#"$ROOT/"}" > "$OUT/SOURCE_RUN"
echo "== int8 copy (the CPU default; TestRerankerInt8Agreement checks it against model.onnx)"
t "$PY" "$ROOT/training/quantize.py" "$OUT/model.onnx" "$OUT/model.int8.onnx"
echo "== nDCG@10 of reranking the top-20 / top-50 hybrid candidates (Go defaults)"
CAND="$ROOT/artifacts/reranker/hybrid_run.csv"
(cd "$ROOT" && go run ./cmd/assistant eval search --judgments training/data/icecat_judgments_dev.csv --mode hybrid \
  --model-dir "$BIENC" --run-out "$CAND" >/dev/null)
for depth in 20 50; do
  t "$PY" -m shopassist_training.rerank_eval --products "$PRODUCTS" --run "$RUN" --vocab "$OUT/vocab.txt" --candidates "$CAND" --depth "$depth"
done
echo "total ${SECONDS}s"
