#!/usr/bin/env bash
# Installs the Debian 12 packages keyward's build, tests and demo use.
# Only what is missing is installed; run as root (or through sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config python3 bzip2 xz-utils openssl debian-archive-keyring
      iproute2 procps coreutils
      libp11-kit-dev p11-kit softhsm2 opensc gnutls-bin nginx-light
      libtss2-dev swtpm swtpm-tools tpm2-tools tpm2-openssl gcc-arm-none-eabi
      libnewlib-arm-none-eabi qemu-system-arm mosquitto mosquitto-clients
      tpm2-abrmd libtss2-tcti-tabrmd0 dbus
      python3-jinja2 python3-jsonschema)  # Mbed TLS 4.x generates its PSA driver wrappers with them
pkgs+=(g++)   # tests/install/headers.sh: every installed header compiles as C++
pkgs+=(clang-format cppcheck)   # make check-format, make analyse (CI)
pkgs+=(clang libclang-rt-14-dev)    # libFuzzer fuzz targets (cmake -DKEYWARD_FUZZ=ON)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the packages' own services (nginx on :80) from starting.
rc_was_there=0
[ -e /usr/sbin/policy-rc.d ] && rc_was_there=1
if [ $rc_was_there -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
fi
status=0
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
[ $rc_was_there -eq 0 ] && $SUDO rm -f /usr/sbin/policy-rc.d
exit $status
