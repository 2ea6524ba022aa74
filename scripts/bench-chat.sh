#!/usr/bin/env bash
# The chat load test of BENCHMARKS.md (issue 10): a throwaway redis-server,
# one `assistant serve` with the default pipeline (intent, hybrid retrieval,
# cross-encoder reranking) on Redis, and `assistant bench chat` against it,
# all on this machine. Usage:
#   scripts/bench-chat.sh RATE [DURATION] [CONNS]     e.g. scripts/bench-chat.sh 200 60s 200
# Prints the generator's JSON report, then the server's CPU seconds and
# resident memory.
set -euo pipefail
cd "$(dirname "$0")/.."
rate="${1:?rate}"; duration="${2:-60s}"; conns="${3:-200}"
make -s build >/dev/null
dir=$(mktemp -d)
port=$(( 20000 + RANDOM % 20000 )); http=$(( port + 1 ))
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
rpid=$!
bin/assistant serve --addr "127.0.0.1:$http" --data-dir "$dir/var" --redis-url "redis://127.0.0.1:$port/0" \
  --ip-rate 0 --log-level warn >"$dir/serve.log" 2>&1 &
spid=$!
trap 'kill $spid $rpid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 300); do curl -sf "127.0.0.1:$http/readyz" >/dev/null && break; sleep 0.5; done
curl -sf "127.0.0.1:$http/readyz" >/dev/null || { cat "$dir/serve.log"; echo "serve not ready" >&2; exit 1; }
cpu0=$(curl -s "127.0.0.1:$http/metrics" | awk '/^process_cpu_seconds_total/ {print $2}')
bin/assistant bench chat --url "ws://127.0.0.1:$http/ws" --conns "$conns" --rate "$rate" --duration "$duration"
m=$(curl -s "127.0.0.1:$http/metrics")
cpu1=$(echo "$m" | awk '/^process_cpu_seconds_total/ {print $2}')
rss=$(echo "$m" | awk '/^process_resident_memory_bytes/ {printf "%.0f", $2/1048576}')
echo "server: $(awk "BEGIN{print $cpu1 - $cpu0}") CPU seconds during the run, resident memory ${rss} MiB"
echo "$m" | grep -E '^shopassist_(turns_total|rerank_fallbacks_total|ws_errors_total)' || true
