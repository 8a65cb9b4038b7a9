#!/usr/bin/env bash
# Installs the Debian client tools the project shells out to, when they are missing.
set -euo pipefail
missing=()
command -v psql >/dev/null || missing+=(postgresql-client)
command -v mariadb-dump >/dev/null || missing+=(mariadb-client)
command -v zstd >/dev/null || missing+=(zstd)
# age: tests prove our encrypted backups against the standard tool, both directions.
command -v age >/dev/null || missing+=(age)
# The console's browser tests drive Debian's Chromium (Playwright cannot download one here).
command -v chromium >/dev/null || missing+=(chromium)
# The README walkthrough (and its test) uses curl and jq.
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
