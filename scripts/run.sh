#!/usr/bin/env bash
# Set up (first time) and start orch-bot. Arguments go to `orch-bot`, e.g. `scripts/run.sh serve --port 3000`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" ""
exec "$venv/bin/orch-bot" "$@"
