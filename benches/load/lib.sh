# Shared by the scripts of benches/load; sourced, not run: `source "$(dirname "$0")/lib.sh"`.
#
# On sourcing: the working directory becomes the workspace root ($root), $bin names the
# release binaries' directory, $work is a fresh temporary directory, and every process started
# with `start` (listed in $pids) is stopped, and $work removed, when the script exits or is
# interrupted.
# shellcheck shell=bash

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
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

# How long `start` waits for a process to listen, in seconds.
listen_timeout=10

need() { # command package: install the Debian package when the command is missing
  command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
}

build_release() { # the server and the bench binaries (upstream, load generator)
  cargo build --release -q -p bulkhead-server -p bulkhead-benches --bins
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() { # below the kernel's ephemeral range, where a client's TIME_WAIT may hold a port
  local port low
  low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  ((low > 11000)) || low=32768
  for _ in $(seq 50); do
    port=$((10000 + RANDOM % (low - 10000)))
    listening "$port" || { echo "$port"; return; }
  done
  echo "no free port found" >&2; return 1
}

wait_for() { # port pid name: until something listens on port; exit if pid dies first
  for _ in $(seq $((listen_timeout * 10))); do
    listening "$1" && return
    kill -0 "$2" 2>/dev/null || { echo "$3 exited:" >&2; cat "$work/$3.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$3 did not listen on $1 within $listen_timeout s" >&2; exit 1
}

# start name port command...: run command in the background, its output in $work/name.log,
# and wait until it listens on port. Its pid is left in $started (and added to $pids).
start() {
  local name=$1 port=$2
  shift 2
  "$@" >"$work/$name.log" 2>&1 &
  started=$!
  pids+=("$started")
  wait_for "$port" "$started" "$name"
}

gateway_config() { # file upstream-base-url: model `chat` served by one `openai` provider there
  cat >"$1" <<TOML
[[providers]]
name = "upstream"
kind = "openai"
base_url = "$2"

[[models]]
name = "chat"
targets = [{ provider = "upstream", model = "gpt-4o-mini" }]
TOML
}
