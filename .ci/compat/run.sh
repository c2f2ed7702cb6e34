#!/usr/bin/env bash
# Starts the reference server on its embedded defaults and drives it with the official `openai`
# Python package (.ci/compat/openai_compat.py). Used by .ci/run; runnable by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${BULKHEAD_VENV:-target/compat-venv}
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check openai

cargo build --quiet -p bulkhead-server
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
"${CARGO_TARGET_DIR:-target}/debug/bulkhead-server" --listen "127.0.0.1:$port" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
    "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then cat "$log"; echo "server exited early"; exit 1; fi
  sleep 0.1
done

BULKHEAD_BASE_URL="http://127.0.0.1:$port/v1" "$venv/bin/python" .ci/compat/openai_compat.py || {
  echo "--- server log ---"; cat "$log"; exit 1;
}
