#!/usr/bin/env bash
# Builds the libcurl that mc-agent links statically: Debian's own curl
# source, at the version of the installed libcurl4 (so Debian's security
# patches come with it), configured with HTTP, HTTPS (OpenSSL) and unix
# sockets only. Debian's shared libcurl loads 32 libraries (Kerberos, LDAP,
# SSH, GnuTLS...) the agent never uses, and they alone would put the idle
# agent over its 8 MiB (docs/performance.md). mcctl keeps Debian's.
#
# Leaves build-deps/curl -> curl-VERSION/ with include/curl/*.h and
# lib/libcurl.a, for both builds (CMakeLists.txt). Does nothing when that is
# built, by this script as it is now, from a version at least as new as the
# installed libcurl4. Needs deb.debian.org only while it builds; the
# machine's apt configuration is left alone (a private one lives in
# build-deps/apt). `make build` runs it; `rm -rf build-deps` starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
self=scripts/build-curl.sh
deps=build-deps

fail()
{
    echo "build-curl: $*" >&2
    exit 1
}

installed=$(dpkg-query -W -f='${source:Version}' libcurl4 2>/dev/null) ||
    fail "cannot tell which curl to build: libcurl4 is not installed" \
        "(make deps)"
recipe=$(sha256sum "$self" | cut -d' ' -f1)

mkdir -p "$deps" || fail "cannot make \"$deps\""
exec 9>"$deps/.lock"
flock 9

up_to_date()
{
    local built

    built=$(readlink "$deps/curl" 2>/dev/null) || return 1
    built=${built#curl-}
    [[ -f $deps/curl/lib/libcurl.a ]] &&
        [[ $(cat "$deps/curl/recipe" 2>/dev/null) == "$recipe" ]] &&
        dpkg --compare-versions "$built" ge "$installed"
}
if up_to_date; then
    exit 0
fi

# A private apt: its own source list (deb-src of bookworm and its security
# updates, checked against Debian's archive key), index and cache, so the
# machine's sources and lists are not touched and no root is needed. The
# machine's apt.conf.d (a proxy, say) still applies. apt's download sandbox
# user (_apt) cannot write into a build tree owned by someone else: as root,
# downloads run as root, as they would after apt's own warning; everything
# downloaded is still checked against the signed index.
apt=$deps/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
key=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$apt/sources.list" <<EOF
deb-src [signed-by=$key] http://deb.debian.org/debian bookworm main
deb-src [signed-by=$key] http://deb.debian.org/debian-security bookworm-security main
EOF
apt_opts=(-qq
    -o "Dir::Etc::SourceList=$PWD/$apt/sources.list"
    -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$PWD/$apt/lists"
    -o "Dir::Cache=$PWD/$apt/cache")
if [[ $(id -u) == 0 ]]; then
    apt_opts+=(-o APT::Sandbox::User=root)
fi

log=$deps/curl-build.log
: >"$log"
apt-get "${apt_opts[@]}" --error-on=any update >>"$log" 2>&1 ||
    fail "cannot read Debian's source index from deb.debian.org" \
        "(see $log)"

# The installed libcurl4's version; when the archive has moved past it, the
# newest there (an older machine still gets the current security fixes).
version=
newest=
for v in $(apt-cache "${apt_opts[@]}" showsrc --only-source curl |
    sed -n 's/^Version: //p'); do
    [[ $v == "$installed" ]] && version=$v
    if [[ -z $newest ]] || dpkg --compare-versions "$v" gt "$newest"; then
        newest=$v
    fi
done
[[ -n $newest ]] || fail "no curl source in Debian's index (see $log)"
if [[ -z $version ]]; then
    version=$newest
    echo "build-curl: libcurl4 $installed is no longer in Debian's" \
        "archive; building $version, the newest there"
fi

out=$deps/curl-$version
tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp/include/curl" "$tmp/lib"
echo "build-curl: building libcurl $version (HTTP, HTTPS, unix sockets)" \
    "for mc-agent into $out"

(cd "$tmp" && apt-get "${apt_opts[@]}" source --only-source \
    --download-only "curl=$version") >>"$log" 2>&1 ||
    fail "cannot download curl $version's source (see $log)"
# dpkg-source checks the files against the .dsc and applies Debian's
# patches. It cannot check the .dsc's own signature (the uploader's key is
# in debian-keyring, not installed) and says so in the log; apt has already
# checked every file against the index the archive key signs.
(cd "$tmp" && dpkg-source -x "curl_${version#*:}.dsc" src) >>"$log" 2>&1 ||
    fail "cannot unpack curl $version's source (see $log)"

# The source's own configure, without autoreconf: Debian's patches to
# configure.ac, Makefile.am and ltmain.sh concern what is left out here
# (GSS-API, LDAP), its packaging and its GnuTLS and NSS flavours. Debian's
# compiler flags (hardening) and CA locations, so that trust works as with
# Debian's libcurl: the directory /etc/ssl/certs is what mc-agent uses
# (src/agent/trust.c). Everything the agent does not use is left out.
configure=(
    --disable-shared --enable-static --disable-dependency-tracking
    --with-openssl
    --with-ca-path=/etc/ssl/certs
    --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt
    --enable-http --enable-proxy --enable-ipv6 --enable-unix-sockets
    --enable-threaded-resolver
    --disable-ftp --disable-file --disable-ldap --disable-ldaps
    --disable-rtsp --disable-dict --disable-telnet --disable-tftp
    --disable-pop3 --disable-imap --disable-smb --disable-smtp
    --disable-gopher --disable-mqtt --disable-websockets
    --disable-ntlm --disable-ntlm-wb --disable-crypto-auth --disable-tls-srp
    --disable-cookies --disable-doh --disable-mime --disable-netrc
    --disable-alt-svc --disable-hsts --disable-headers-api
    --disable-get-easy-options --disable-progress-meter
    --disable-manual --disable-libcurl-option
    --without-zlib --without-brotli --without-zstd --without-libpsl
    --without-libgsasl --without-libidn2 --without-nghttp2
    --without-ngtcp2 --without-nghttp3 --without-quiche --without-msh3
    --without-libssh2 --without-libssh --without-wolfssh --without-librtmp
    --without-hyper
)
(
    cd "$tmp/src"
    eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags \
        --export=sh)"
    ./configure "${configure[@]}"
) >>"$log" 2>&1 || fail "cannot configure curl $version (see $log)"
make -C "$tmp/src/lib" -j "$(nproc)" >>"$log" 2>&1 ||
    fail "cannot compile curl $version (see $log)"

install -m 0644 "$tmp/src/lib/.libs/libcurl.a" "$tmp/lib/"
install -m 0644 "$tmp"/src/include/curl/*.h "$tmp/include/curl/"
echo "$recipe" >"$tmp/recipe"
mv "$log" "$tmp/build.log"
rm -rf "$out"
mv "$tmp" "$out"
ln -sfn "curl-$version" "$deps/curl"
for old in "$deps"/curl-*/; do
    [[ $old == "$out/" ]] || rm -rf "$old"
done
