#!/usr/bin/env bash
# The cross-encoder's GPU path against its CPU paths, on one machine (issue 6;
# BENCHMARKS.md "Ranking on a GPU"). Needs python3 with torch (CUDA for the GPU
# rows), the reranker checkpoint named by models/reranker/SOURCE_RUN, and a
# compiled ranking test binary with the ONNX Runtime library:
#   go test -c -o RANKING_TEST ./ranking
#   RANKING_TEST=$PWD/RANKING_TEST ASSISTANT_ORT_LIB=$PWD/third_party/onnxruntime/libonnxruntime.so.1 \
#     scripts/bench-rerank-gpu.sh OUTDIR
# Writes into OUTDIR: machine.txt, python-bench.jsonl (the reference server's
# --bench: one request at a time, no HTTP), remote.txt (Go's ranking.Remote
# over loopback HTTP to the server on each device, 1/8/32 concurrent callers)
# and onnx-cpu.txt (the in-process ONNX path: 2 cores pinned, then all cores).
# Each step is logged and the script goes on when one fails (no CUDA, say).
# PYTHON_ONLY=1 stops after python-bench.jsonl.
set -u
cd "$(dirname "$0")/.."
out="${1:?output folder}"; mkdir -p "$out"
PY="${PY:-python3}"; test_bin="${RANKING_TEST:?compiled ranking test binary}"
ncpu=$(nproc)
port=18181

{
  date -u; uname -r; nproc; grep -m1 'model name' /proc/cpuinfo
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1
  "$PY" -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.get_available_providers())' 2>&1
} | tee "$out/machine.txt"

echo "== reference server, --bench (one request at a time, no HTTP)"
base="--bench-shape 768,12 --bench-max-length 128"  # a BERT-base-sized stand-in (random weights)
rows=("--device cuda --bench-pairs 50" "--device cuda --bench-pairs 1000"
  "--device cuda --bench-pairs 50 --dtype bfloat16" "--device cuda --bench-pairs 1000 --dtype bfloat16"
  "--device cuda --bench-pairs 50 $base" "--device cuda --bench-pairs 1000 $base"
  "--device cuda --bench-pairs 50 --dtype bfloat16 $base" "--device cuda --bench-pairs 1000 --dtype bfloat16 $base"
  "--device cuda --bench-pairs 1000 --dtype float16 $base"
  "--device cpu --threads 2 --bench-pairs 50" "--device cpu --threads $ncpu --bench-pairs 50"
  "--device cpu --threads $ncpu --bench-pairs 50 $base")
for args in "${rows[@]}"; do
  # shellcheck disable=SC2086
  timeout 60 "$PY" training/rerank_server.py --bench --bench-seconds 8 $args || echo "{\"failed\": \"$args\"}"
done | tee "$out/python-bench.jsonl"
[ "${PYTHON_ONLY:-0}" = 1 ] && exit 0

echo "== Go ranking.Remote -> reference server over loopback HTTP"
: >"$out/remote.txt"
for dev in cuda cpu; do
  "$PY" training/rerank_server.py --device "$dev" --threads "$ncpu" --port "$port" \
    2> >(grep -v 'POST /rerank' >"$out/server-$dev.log") &
  spid=$!
  for _ in $(seq 60); do curl -sf "127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
  if curl -sf "127.0.0.1:$port/health" >/dev/null; then
    for callers in 1 8 32; do
      n=3000; [ "$dev" = cpu ] && n=600
      echo "device $dev, callers $callers" | tee -a "$out/remote.txt"
      (cd ranking && RANKING_BENCH_URL="http://127.0.0.1:$port/rerank" RANKING_BENCH_CALLERS=$callers \
        timeout 120 "$test_bin" -test.run '^$' -test.bench RemoteRerank50 -test.benchtime ${n}x -test.cpu "$ncpu") \
        2>&1 | grep -E 'Benchmark|FAIL|bench_test' | tee -a "$out/remote.txt"
    done
  else
    echo "device $dev: server did not start" | tee -a "$out/remote.txt"
    tail -5 "$out/server-$dev.log" | tee -a "$out/remote.txt"
  fi
  kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
done

echo "== in-process ONNX on CPU (the default path): 2 cores pinned, then $ncpu"
{
  (cd ranking && taskset -c 0,1 timeout 120 "$test_bin" -test.run '^$' -test.bench 'Rerank50$|Rerank50FloatVsInt8' \
    -test.benchtime 300x -test.cpu 2)
  (cd ranking && timeout 120 "$test_bin" -test.run '^$' -test.bench 'Rerank50Parallel' -test.benchtime 3000x -test.cpu "$ncpu")
} 2>&1 | grep -E 'Benchmark|FAIL|rror|model' | tee "$out/onnx-cpu.txt"
