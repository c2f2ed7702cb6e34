#!/usr/bin/env bash
#: Instructions per request, counted by valgrind's callgrind: the one figure on this shared,
#: noisy 2-core machine that repeats run after run, so the one to compare before and after a
#: change. User space only (syscalls and the kernel's TCP work are not counted).
#:
#: Run: bash benches/load/instructions.sh      (BENCH_SECS=3: seconds of load per measurement)
#:
#: For each of the static upstream, the bare reverse proxy (forwarding with reqwest, and with
#: hyper-util's client alone, as the gateway's providers do), the release `bulkhead-server`
#: (the proxies and the server in front of a second, unmeasured upstream) and that server with
#: `[cache] enabled` (every measured request a hit: the warm-up filled the cache), JSON,
#: 20-chunk stream and JSON with a ~40 KB prompt (`bulkhead-bench-load --long-prompt`, a
#: 25-message conversation: what grows with the prompt): start it under callgrind on a free 127.0.0.1 port, warm it up for 1 s, zero
#: the counters, send
#: `bulkhead-bench-load --concurrency 1` for BENCH_SECS, dump, and divide the program's total
#: by the requests sent. Prints a markdown table; stops every process it started on exit.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
secs=${BENCH_SECS:-3}
listen_timeout=30 # a server under valgrind starts slowly

need valgrind valgrind
build_release

up_port=$(free_port)
start upstream "$up_port" "$bin/bulkhead-bench-upstream" --listen "127.0.0.1:$up_port"
upstream=http://127.0.0.1:$up_port/v1
gateway_config "$work/gateway.toml" "$upstream"
gateway_config "$work/gateway-cache.toml" "$upstream"
printf '\n[cache]\nenabled = true\n' >>"$work/gateway-cache.toml"

measure() { # json|stream|long command... -> instructions per request
  local kind=$1 port pid out sent total flag=()
  shift
  port=$(free_port)
  [[ $kind == stream ]] && flag=(--stream)
  [[ $kind == long ]] && flag=(--long-prompt)
  start valgrind "$port" valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" "$@" \
    --listen "127.0.0.1:$port"
  pid=$started
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

echo "| server | JSON (k instructions/request) | 20-chunk stream (k instructions/request) | JSON, 40 KB prompt (k instructions/request) |"
echo "|---|--:|--:|--:|"
for server in upstream bare bare-hyper gateway cached; do
  case $server in
    upstream) cmd=("$bin/bulkhead-bench-upstream"); label="static upstream (direct)" ;;
    bare) cmd=("$bin/bulkhead-bench-upstream" --proxy-to "$upstream"); label="bare reverse proxy (reqwest)" ;;
    bare-hyper) cmd=("$bin/bulkhead-bench-upstream" --proxy-to "$upstream" --proxy-client hyper)
      label="bare reverse proxy (hyper-util's client alone)" ;;
    gateway) cmd=("$bin/bulkhead-server" --config "$work/gateway.toml"); label="bulkhead-server" ;;
    cached) cmd=("$bin/bulkhead-server" --config "$work/gateway-cache.toml"); label="bulkhead-server, cache hits" ;;
  esac
  echo "| $label | $(measure json "${cmd[@]}") | $(measure stream "${cmd[@]}") | $(measure long "${cmd[@]}") |"
done
