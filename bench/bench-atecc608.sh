#!/usr/bin/env bash
# ATECC608 figures (run by scripts/bench.sh BUILD): bus traffic per TLS
# handshake from the emulator's counters, and the Cortex-M4 footprint.
set -eu
build=${1:?build dir}
src=$(cd "$(dirname "$0")/.." && pwd)
echo "== ATECC608 (emulator at nominal timing): wakes, commands, bus bytes per mutual-TLS handshake"
KW_EMU=$build/emulator/keyward-atecc608-emu KW_TOOL=$build/tools/keyward-tool \
    "$build/bench/atecc608_handshake" 20
echo "== footprint: core + ATECC608 backend + HAL interface, arm-none-eabi-gcc -Os -mcpu=cortex-m4 -mthumb"
bash "$src/bench/footprint.sh" "$build/mbedtls-src/include"
