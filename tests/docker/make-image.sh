#!/usr/bin/env bash
# Makes a tiny test image without pulling anything from the internet: a root
# filesystem holding Debian's static busybox (package busybox-static) and
# its applet links, imported with the given Dockerfile changes.
#
#   make-image.sh ROOTFS_DIR IMAGE_REF [--change 'CMD [...]' ...]
#
# DOCKER (default: docker) and DOCKER_HOST pick the client and the engine.
set -euo pipefail

rootfs=$1
ref=$2
shift 2
docker=${DOCKER:-docker}

if [[ ! -x $rootfs/bin/busybox ]]; then
    # ldd fails on a static executable; busybox-static installs /bin/busybox.
    busybox=/bin/busybox
    if [[ ! -x $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
        echo "make-image: $busybox is not static; install busybox-static" >&2
        exit 1
    fi
    mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/www"
    cp "$busybox" "$rootfs/bin/busybox"
    for applet in sh sleep httpd test true false touch cat echo ls; do
        ln -sf busybox "$rootfs/bin/$applet"
    done
    echo ok >"$rootfs/www/index.html"
fi

tar -C "$rootfs" -c . | "$docker" import "$@" - "$ref" >/dev/null
