#!/usr/bin/env bash
# The project's test command (make test, and so CI): installs what the tests
# need when it is missing, starts a throwaway redis-server on a free loopback
# port, and runs vet, every Go test with the race detector, and short fuzz runs.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
need() { # need BINARY PACKAGE: install PACKAGE with apt-get when BINARY is missing
  command -v "$1" >/dev/null 2>&1 && return
  [ -x "/usr/sbin/$1" ] && return
  echo "test.sh: installing $2 with apt-get" >&2
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need redis-server redis-server
need nginx nginx       # deploy/: two replicas behind nginx
need chromium chromium # e2e/: the widget and console in headless Chromium

free_port() { # a loopback port nothing listens on
  local p
  while :; do
    p=$(( 20000 + RANDOM % 40000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
redis_dir=$(mktemp -d)
port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" --daemonize no >"$redis_dir/log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; rm -rf "$redis_dir"' EXIT
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$port" ping >/dev/null || { cat "$redis_dir/log"; echo "test.sh: redis-server did not start" >&2; exit 1; }
export REDIS_ADDR="127.0.0.1:$port"
echo "test.sh: redis-server on $REDIS_ADDR"

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
go vet ./...
go test -race -count=1 -timeout 20m ./...
# Allocation counts are only meaningful without the race detector.
go test -count=1 -run 'Alloc' ./...
scripts/fuzz.sh
