#!/usr/bin/env bash
# Fetch the Mbed TLS 3.6 LTS source from Debian 13's source package through a
# private apt configuration (the system's sources stay untouched; apt checks
# the archive signatures).  Usage: fetch-mbedtls.sh DESTDIR
# Prints the path of the unpacked tree on stdout.
set -euo pipefail
dest=${1:?usage: fetch-mbedtls.sh DESTDIR}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
if [ -f "$dest/tree/include/mbedtls/build_info.h" ]; then
    echo "$dest/tree"; exit 0
fi
apt_root="$dest/apt"
mkdir -p "$apt_root/lists/partial" "$apt_root/cache/archives/partial" "$apt_root/etc/preferences.d" "$apt_root/etc/sources.list.d"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ ! -f /usr/share/keyrings/debian-archive-trixie-stable.gpg ] && [ "$(id -u)" -eq 0 ]; then
    # bookworm's keyring gained the trixie keys in a point release: update it
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debian-archive-keyring >&2 || true
fi
[ -f /usr/share/keyrings/debian-archive-trixie-stable.gpg ] || {
    echo "fetch-mbedtls: debian-archive-keyring lacks the trixie keys (apt-get install debian-archive-keyring)" >&2; exit 1; }
echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian trixie main" > "$apt_root/sources.list"
opts=(-o "Dir::Etc::sourcelist=$apt_root/sources.list"
      -o "Dir::Etc::sourceparts=$apt_root/etc/sources.list.d"
      -o "Dir::Etc::preferencesparts=$apt_root/etc/preferences.d"
      -o "Dir::State::lists=$apt_root/lists"
      -o "Dir::Cache::archives=$apt_root/cache/archives"
      -o "Dir::Cache=$apt_root/cache"
      -o "APT::Get::List-Cleanup=0"
      -o "Debug::NoLocking=1")
apt-get "${opts[@]}" -qq update >&2
work="$dest/dl"
rm -rf "$work"; mkdir -p "$work"
( cd "$work" && apt-get "${opts[@]}" -qq --download-only source mbedtls >&2 )
orig=$(ls "$work"/mbedtls_*.orig.tar.* | head -n1)
ver=$(basename "$orig" | sed -E 's/^mbedtls_([0-9.]+)\.orig.*/\1/')
case "$ver" in
    3.6.*) minor=${ver#3.6.}; [ "${minor%%.*}" -ge 6 ] || { echo "fetch-mbedtls: Debian offers mbedtls $ver; keyward needs 3.6.x >= 3.6.6" >&2; exit 1; } ;;
    *) echo "fetch-mbedtls: Debian offers mbedtls $ver; keyward needs 3.6.x >= 3.6.6" >&2; exit 1 ;;
esac
rm -rf "$dest/tree.tmp"; mkdir -p "$dest/tree.tmp"
tar -xf "$orig" -C "$dest/tree.tmp" --strip-components=1
rm -rf "$dest/tree"; mv "$dest/tree.tmp" "$dest/tree"
echo "$dest/tree"
