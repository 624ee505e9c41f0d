#!/usr/bin/env bash
# Installs the Debian packages (and the npm packages of package-lock.json)
# that building, running and testing Mission Control need. Idempotent: does
# nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# dpkg-dev and debian-archive-keyring: mc-agent's libcurl is built from
# Debian's curl source (scripts/build-curl.sh); openssl: test certificates.
packages=(
    build-essential cmake pkg-config clang-format
    dpkg-dev debian-archive-keyring
    libevent-dev libjansson-dev libsqlite3-dev libsodium-dev libssl-dev
    libcurl4-openssl-dev libpq-dev libcmocka-dev
    sqlite3 curl chromium jq python3
    docker.io docker-registry busybox-static
    postgresql nginx-light strace openssl
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
    if [[ $(id -u) != 0 ]]; then
        echo "deps: missing Debian packages: ${missing[*]}" >&2
        echo "deps: run 'sudo make deps' (or install them with apt-get)" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine has no package lists yet: update once, then install.
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi

if [[ -f package-lock.json ]]; then
    if [[ ! -d node_modules ]] ||
        [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
        echo "deps: installing npm packages from package-lock.json"
        npm ci --no-audit --no-fund --loglevel=error
    fi
fi
