#!/usr/bin/env bash
# `make run`: mcd on its SQLite database in var/, with a simulated fleet of
# 25 venues in the demo organization, and the demo credentials. A second
# run reuses the data (the fleet registers once). Ctrl-C stops everything.
#
# Overrides (environment): MC_LISTEN (127.0.0.1:8080), MC_VAR_DIR (var),
# MC_BUILD_DIR (the first argument, else build), and mcd's own MC_*
# settings (MC_DB, MC_KEY, MC_BOOTSTRAP_*, MC_LOG_LEVEL...).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${MC_BUILD_DIR:-${1:-build}}
var=${MC_VAR_DIR:-var}

export MC_LISTEN=${MC_LISTEN:-127.0.0.1:8080}
export MC_DB=${MC_DB:-$var/mission-control.db}
export MC_KEY=${MC_KEY:-$var/server.key}
export MC_BOOTSTRAP_EMAIL=${MC_BOOTSTRAP_EMAIL:-admin@example.com}
export MC_BOOTSTRAP_PASSWORD=${MC_BOOTSTRAP_PASSWORD:-mission-control}
export MC_BOOTSTRAP_TOKEN=${MC_BOOTSTRAP_TOKEN:-mc_demo_token_change_me_0001}

# The demo fleet: 24 agents (the last 3 registered but never connected,
# one in 17 on the old schema: venue-00017) and one venue without a node.
agents=24
offline=3
no_hardware=1
schema=42
old_schema_share=0.06
prefix=venue

url="http://$MC_LISTEN"
token=$MC_BOOTSTRAP_TOKEN
tokens="$var/fleet-tokens.jsonl"
stats="$var/fleetsim-stats.json"
mcd_pid=
sim_pid=

say() { printf 'run: %s\n' "$*" >&2; }

for bin in mcd mc-fleetsim; do
    if [[ ! -x $build/$bin ]]; then
        say "$build/$bin does not exist: run 'make build' first"
        exit 1
    fi
done
mkdir -p "$var"

# Stops the children we started, by PID, and waits for them: SIGTERM, then
# SIGKILL for one that is still there after 10 s.
stop_children() {
    local pids=() p
    for p in $sim_pid $mcd_pid; do
        kill -0 "$p" 2>/dev/null && pids+=("$p")
    done
    ((${#pids[@]})) || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "${pids[@]}" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    sim_pid= mcd_pid=
    rm -f "$var/run.pids"
}

on_signal() {
    trap - INT TERM
    echo >&2
    say "stopping"
    stop_children
    say "stopped"
    exit 0
}
trap on_signal INT TERM
trap stop_children EXIT

# curl against the API with the demo token; prints the body, fails on an
# HTTP error unless the status is in $ok (e.g. "409").
call() {
    local method=$1 path=$2 body=${3:-} ok=${4:-} out code
    out=$(curl -sS -X "$method" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' ${body:+--data "$body"} \
        -w '\n%{http_code}' "$url$path") || return 1
    code=${out##*$'\n'}
    out=${out%$'\n'*}
    if [[ $code != 2?? && " $ok " != *" $code "* ]]; then
        say "$method $path: $code $out"
        return 1
    fi
    printf '%s' "$out"
}

start_mcd() {
    # Own sessions (setsid): Ctrl-C reaches only this script, whose trap
    # stops the fleet and then mcd, in that order.
    setsid "$build/mcd" >"$var/mcd.log" 2>&1 &
    mcd_pid=$!
    echo "$mcd_pid" >"$var/run.pids"
    for _ in $(seq 100); do
        if ! kill -0 "$mcd_pid" 2>/dev/null; then
            wait "$mcd_pid" || true
            mcd_pid=
            say "mcd did not start; the end of $var/mcd.log:"
            tail -n 5 "$var/mcd.log" >&2
            exit 1
        fi
        curl -sf "$url/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    say "mcd does not answer on $url after 10 s (see $var/mcd.log)"
    exit 1
}

# First run only: three releases, and the fleet registered into the
# tokens file. Registration writes the file once all are registered; an
# interrupted first run leaves locations without tokens, so refuse then.
seed() {
    local existing
    existing=$(call GET '/api/admin/locations?limit=1000' |
        jq --arg p "$prefix-" '[.locations[] |
            select(.name | startswith($p))] | length')
    if ((existing > 0)); then
        say "$var holds $existing $prefix-* locations but no $tokens:"
        say "an earlier first run was interrupted; remove $var/ and run again"
        exit 1
    fi
    say "first run: making releases and registering the demo fleet"
    call POST /api/admin/releases '{"version": "1.0.0", "imageTag": "1.0.0",
        "releaseNotes": "What every venue runs."}' 409 >/dev/null
    call POST /api/admin/releases '{"version": "1.1.0", "imageTag": "1.1.0",
        "releaseNotes": "Faster till, new receipt layout.",
        "rollbackVersion": "1.0.0"}' 409 >/dev/null
    call POST /api/admin/releases '{"version": "1.2.0-beta.1",
        "imageTag": "1.2.0-beta.1", "channel": "BETA",
        "minSchemaVersion": '"$schema"',
        "releaseNotes": "Loyalty cards; needs POS schema '"$schema"'."}' \
        409 >/dev/null
    "$build/mc-fleetsim" --server "$url" --admin-token "$token" \
        --agents "$agents" --no-hardware "$no_hardware" \
        --name-prefix "$prefix" --register-out "$tokens" --register-only \
        >"$var/fleetsim-register.log" 2>&1 || {
        say "registering the fleet failed; see $var/fleetsim-register.log"
        exit 1
    }
}

start_fleet() {
    rm -f "$stats"
    setsid "$build/mc-fleetsim" --server "$url" --tokens-file "$tokens" \
        --offline "$offline" --current-version 1.0.0 \
        --schema-version "$schema" --old-schema-share "$old_schema_share" \
        --success-delay 3000 --stats-file "$stats" \
        >"$var/fleetsim.log" 2>&1 &
    sim_pid=$!
    echo "$mcd_pid $sim_pid" >"$var/run.pids"
    local target=$((agents - offline)) online=0
    for _ in $(seq 100); do
        kill -0 "$sim_pid" 2>/dev/null || break
        online=$(jq -r '.online // 0' "$stats" 2>/dev/null || echo 0)
        ((online >= target)) && return 0
        sleep 0.1
    done
    say "the fleet did not come online ($online of $target; see" \
        "$var/fleetsim.log)"
    exit 1
}

start_mcd
[[ -s $tokens ]] || seed
start_fleet

cat <<MSG
Mission Control is running.
  dashboard: $url/dashboard/
  sign in:   $MC_BOOTSTRAP_EMAIL / $MC_BOOTSTRAP_PASSWORD
  API token: $token
             (demo credentials, made on the first start of $MC_DB)
  fleet:     $((agents + no_hardware)) venues: $((agents - offline)) online,\
 $offline offline, 1 without hardware, venue-00017 on schema $((schema - 1))
  logs:      $var/mcd.log, $var/fleetsim.log
Ctrl-C stops it.
MSG

# Until Ctrl-C (the trap), or until a child ends by itself.
set +e
wait -n "$mcd_pid" "$sim_pid"
status=$?
trap - INT TERM
kill -0 "$mcd_pid" 2>/dev/null || say "mcd stopped ($status); see $var/mcd.log"
kill -0 "$sim_pid" 2>/dev/null ||
    say "mc-fleetsim stopped ($status); see $var/fleetsim.log"
stop_children
exit 1
