#!/usr/bin/env bash
# `make run`: the emulator hosting this project's function_app.py, with Azurite.
#   HOST, PORT                the API's address (127.0.0.1:7071)
#   RUN_AZURITE_BLOB_PORT,    Azurite's ports (10000, 10001, 10002); the storage connection
#   RUN_AZURITE_QUEUE_PORT,   strings follow them unless local.settings.json sets its own
#   RUN_AZURITE_TABLE_PORT    (scripts/local_storage.py)
set -euo pipefail
cd "$(dirname "$0")/.."
# .state/ holds whole dumps (Azurite's files) and the durable state: the user's alone.
umask 077
export AZURITE_BLOB_PORT=${RUN_AZURITE_BLOB_PORT:-10000}
export AZURITE_QUEUE_PORT=${RUN_AZURITE_QUEUE_PORT:-10001}
export AZURITE_TABLE_PORT=${RUN_AZURITE_TABLE_PORT:-10002}
if [ ! -f local.settings.json ]; then
  cp local.settings.example.json local.settings.json
  echo "created local.settings.json from local.settings.example.json"
fi
# AZURITE_ACCOUNTS (this checkout's key, not Azurite's public one) and the connection strings.
exports=$(.venv/bin/python scripts/local_storage.py local.settings.json)
eval "$exports"
bash scripts/services.sh start-run
.venv/bin/python scripts/local_storage.py --check
echo "the web console: http://${HOST:-127.0.0.1}:${PORT:-7071}/"
exec .venv/bin/python -m emulator --app-dir . --host "${HOST:-127.0.0.1}" --port "${PORT:-7071}" --state .state/emulator.sqlite
