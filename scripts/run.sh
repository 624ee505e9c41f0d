#!/usr/bin/env bash
# `make run`: mcd on its SQLite database in var/, with demo credentials.
# A second run reuses the data. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

export MC_LISTEN=${MC_LISTEN:-127.0.0.1:8080}
export MC_DB=${MC_DB:-var/mission-control.db}
export MC_KEY=${MC_KEY:-var/server.key}
export MC_BOOTSTRAP_EMAIL=${MC_BOOTSTRAP_EMAIL:-admin@example.com}
export MC_BOOTSTRAP_PASSWORD=${MC_BOOTSTRAP_PASSWORD:-mission-control}
export MC_BOOTSTRAP_TOKEN=${MC_BOOTSTRAP_TOKEN:-mc_demo_token_change_me_0001}

cat <<MSG
Mission Control on http://$MC_LISTEN/
  sign in:   $MC_BOOTSTRAP_EMAIL / $MC_BOOTSTRAP_PASSWORD
  API token: $MC_BOOTSTRAP_TOKEN
  (demo credentials, made on the first start of $MC_DB)
Ctrl-C stops it.
MSG
exec "$build/mcd"
