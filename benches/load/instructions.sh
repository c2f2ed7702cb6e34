#!/usr/bin/env bash
#: Instructions per request, counted by valgrind's callgrind: the one figure on this shared,
#: noisy 2-core machine that repeats run after run, so the one to compare before and after a
#: change. User space only (syscalls and the kernel's TCP work are not counted).
#:
#: Run: bash benches/load/instructions.sh      (BENCH_SECS=3: seconds of load per measurement)
#:
#: For each of the static upstream, the bare reverse proxy and the release `bulkhead-server`
#: (both in front of a second, unmeasured upstream), JSON and 20-chunk stream: start it under
#: callgrind on a free 127.0.0.1 port, warm it up for 1 s, zero the counters, send
#: `bulkhead-bench-load --concurrency 1` for BENCH_SECS, dump, and divide the program's total
#: by the requests sent. Prints a markdown table; stops every process it started on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
secs=${BENCH_SECS:-3}

command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
cargo build --release -q -p bulkhead-server -p bulkhead-benches --bins
bin=${CARGO_TARGET_DIR:-$root/target}/release

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 40000))
    listening "$port" || { echo "$port"; return; }
  done
  echo "no free port found" >&2; return 1
}
wait_for() { # port pid
  for _ in $(seq 300); do
    listening "$1" && return
    kill -0 "$2" 2>/dev/null || { echo "process $2 exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "nothing listens on $1 after 30 s" >&2; exit 1
}

up_port=$(free_port)
"$bin/bulkhead-bench-upstream" --listen "127.0.0.1:$up_port" >/dev/null 2>&1 &
pids+=($!)
wait_for "$up_port" "$!"
upstream=http://127.0.0.1:$up_port/v1
cat >"$work/gateway.toml" <<TOML
[[providers]]
name = "upstream"
kind = "openai"
base_url = "$upstream"

[[models]]
name = "chat"
targets = [{ provider = "upstream", model = "gpt-4o-mini" }]
TOML

measure() { # stream(0|1) command... -> instructions per request
  local stream=$1 port pid out sent total flag=()
  shift
  port=$(free_port)
  [[ $stream == 1 ]] && flag=(--stream)
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" "$@" --listen "127.0.0.1:$port" \
    >"$work/valgrind.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_for "$port" "$pid"
  local load=("$bin/bulkhead-bench-load" --direct "http://127.0.0.1:$port/v1"
    --gateway "http://127.0.0.1:$port/v1" --concurrency 1 "${flag[@]}")
  "${load[@]}" --secs 1 >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  out=$("${load[@]}" --secs "$(awk -v s="$secs" 'BEGIN { print s / 2 }')")
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  sent=$(tr ' ' '\n' <<<"$out" | awk -F= '/_sent=/ { s += $2 } END { print s }')
  total=$(callgrind_annotate "$work/cg.$pid.1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
  awk -v t="$total" -v n="$sent" 'BEGIN { printf "%.0f", t / n / 1000 }'
}

echo "| server | JSON (k instructions/request) | 20-chunk stream (k instructions/request) |"
echo "|---|--:|--:|"
for server in upstream bare gateway; do
  case $server in
    upstream) cmd=("$bin/bulkhead-bench-upstream"); label="static upstream (direct)" ;;
    bare) cmd=("$bin/bulkhead-bench-upstream" --proxy-to "$upstream"); label="bare reverse proxy" ;;
    gateway) cmd=("$bin/bulkhead-server" --config "$work/gateway.toml"); label="bulkhead-server" ;;
  esac
  echo "| $label | $(measure 0 "${cmd[@]}") | $(measure 1 "${cmd[@]}") |"
done
