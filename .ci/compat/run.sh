#!/usr/bin/env bash
# Starts the reference server on its embedded defaults and drives it with the official `openai`
# Python package (.ci/compat/openai_compat.py) and the official `anthropic` package on
# /v1/messages (.ci/compat/anthropic_compat.py); then runs the anthropic checks again through
# a second server whose model is served by an OpenAI-format upstream (.ci/compat/openai_mock.py).
# Used by .ci/run; runnable by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${BULKHEAD_VENV:-target/compat-venv}
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check openai anthropic

cargo build --quiet -p bulkhead-server
bin="${CARGO_TARGET_DIR:-target}/debug/bulkhead-server"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME PORT [ARGS...]: run the server, wait for /healthz.
start_server() {
  local name=$1 port=$2
  shift 2
  "$bin" --listen "127.0.0.1:$port" "$@" >"$work/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$work/$name.log"; echo "server $name exited early"; exit 1; fi
    sleep 0.1
  done
}

fail() {
  echo "--- server log ($1) ---"; cat "$work/$1.log"; exit 1
}

# start_behind_mock NAME MOCK KIND URL_PATH API_KEY MODEL UPSTREAM_MODEL: run .ci/compat/MOCK.py,
# then a server (its port in $port) serving MODEL from provider NAME of KIND at the mock's URL_PATH.
start_behind_mock() {
  local name=$1 mock=$2 kind=$3 path=$4 key=$5 model=$6 upstream_model=$7
  python3 ".ci/compat/$mock.py" "$work/$name.port" &
  pids+=("$!")
  for _ in $(seq 1 100); do [[ -s $work/$name.port ]] && break; sleep 0.05; done
  cat >"$work/$name.toml" <<TOML
[[providers]]
name = "$name"
kind = "$kind"
base_url = "http://127.0.0.1:$(cat "$work/$name.port")$path"
api_key = "$key"

[[models]]
name = "$model"
targets = [{ provider = "$name", model = "$upstream_model" }]
TOML
  port=$(free_port)
  start_server "$name" "$port" --config "$work/$name.toml"
}

port=$(free_port)
start_server default "$port"
BULKHEAD_BASE_URL="http://127.0.0.1:$port/v1" "$venv/bin/python" .ci/compat/openai_compat.py \
  || fail default
BULKHEAD_ROOT_URL="http://127.0.0.1:$port" "$venv/bin/python" .ci/compat/anthropic_compat.py \
  || fail default

# The same anthropic checks with an OpenAI-format upstream behind the gateway.
start_behind_mock mock openai_mock openai /v1 sk-mock chat mock-upstream-1
BULKHEAD_ROOT_URL="http://127.0.0.1:$port" BULKHEAD_MODEL=chat \
  "$venv/bin/python" .ci/compat/anthropic_compat.py || fail mock

# The OpenAI SDK with an Anthropic-format upstream behind the gateway: the mock's script comes
# out byte for byte.
start_behind_mock claude anthropic_mock anthropic "" sk-ant-mock claude claude-mock-1
BULKHEAD_BASE_URL="http://127.0.0.1:$port/v1" BULKHEAD_MODEL=claude \
  "$venv/bin/python" .ci/compat/openai_over_anthropic.py || fail claude
