#!/usr/bin/env bash
# Starts the local services the tests need when they are not already running:
# PostgreSQL and MariaDB (started by the machine, restarted here if they stopped)
# and Azurite on the ports in AZURITE_*_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
# Azurite's files under .state/ hold whole dumps: readable by this user only (0700/0600),
# also for what an earlier run left readable by others.
umask 077
private_state() { mkdir -p "$1" && chmod -R go-rwx .state; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 100); do port_open "$port" && return 0; sleep 0.2; done
  echo "$name did not open port $port" >&2
  return 1
}

ensure_databases() {
  if ! port_open 5432; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    wait_port 5432 PostgreSQL
  fi
  if ! port_open 3306; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_port 3306 MariaDB
  fi
}

start_azurite() {
  local persistence=("$@")
  local blob=${AZURITE_BLOB_PORT:-10000} queue=${AZURITE_QUEUE_PORT:-10001} table=${AZURITE_TABLE_PORT:-10002}
  if port_open "$blob" && port_open "$table"; then
    return 0
  fi
  private_state .state
  # Its own session, and no stdin (it exits when stdin closes): it outlives the shell
  # that started it, and a later run reuses it.
  setsid nohup node_modules/.bin/azurite --silent --skipApiVersionCheck --loose --disableTelemetry \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
    --blobPort "$blob" --queuePort "$queue" --tablePort "$table" \
    "${persistence[@]}" > ".state/azurite-$blob.log" 2>&1 < /dev/null &
  wait_port "$blob" Azurite
  wait_port "$table" Azurite
}

case "${1:-}" in
  start-test)
    ensure_databases
    # The tests' Azurite (in memory, no one's data) keeps the public development key.
    unset AZURITE_ACCOUNTS
    start_azurite --inMemoryPersistence
    ;;
  start-run)
    # make run's Azurite holds real dumps: never with the public development key. The key
    # comes from scripts/local_storage.py (as scripts/run.sh exports it), in the
    # environment, which other users cannot read (a command line they can).
    if [ -z "${AZURITE_ACCOUNTS:-}" ]; then
      echo "AZURITE_ACCOUNTS is not set: start it with scripts/run.sh (make run)" >&2
      exit 2
    fi
    ensure_databases
    private_state .state/azurite
    start_azurite --location .state/azurite
    ;;
  *)
    echo "usage: $0 start-test|start-run" >&2
    exit 2
    ;;
esac
