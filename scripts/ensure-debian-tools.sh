#!/usr/bin/env bash
# Installs the Debian client tools the project shells out to, when they are missing.
set -euo pipefail
missing=()
command -v psql >/dev/null || missing+=(postgresql-client)
command -v mariadb-dump >/dev/null || missing+=(mariadb-client)
command -v zstd >/dev/null || missing+=(zstd)
# age: tests prove our encrypted backups against the standard tool, both directions.
command -v age >/dev/null || missing+=(age)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
