#!/usr/bin/env bash
# Set up (first time) and run every check: ruff, mypy (strict on agents/ and bot/), pytest.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k rate_limit`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" dev
cd "$root"
export PATH="$venv/bin:$PATH"

# Redis-backed tests need a server. Use REDIS_URL if given, else 127.0.0.1:6379, starting a throwaway
# redis-server on a spare port when one is installed but none is running. In CI a missing Redis fails the run.
if [ -z "${REDIS_URL:-}" ]; then
  if "$venv/bin/python" -c 'import socket; socket.create_connection(("127.0.0.1", 6379), 0.5).close()' 2>/dev/null; then
    export REDIS_URL="redis://127.0.0.1:6379/0"
  elif command -v redis-server >/dev/null 2>&1; then
    port=6399
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
      --pidfile "/tmp/orch-bot-test-redis-$port.pid" --logfile "/tmp/orch-bot-test-redis-$port.log" >/dev/null
    trap 'kill "$(cat /tmp/orch-bot-test-redis-'"$port"'.pid)" 2>/dev/null || true' EXIT
    export REDIS_URL="redis://127.0.0.1:$port/0"
  fi
fi
if [ "${CI:-}" = "true" ]; then
  export ORCH_TEST_REQUIRE_SERVICES=1
fi

echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy
echo "== pytest"; pytest "$@"
