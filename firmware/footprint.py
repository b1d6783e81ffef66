#!/usr/bin/env python3
"""Flash / RAM figures of the keyward firmware from its GNU ld map file.

    firmware/footprint.py build/firmware/keyward-fw.map

Every input section placed in the image is attributed to the archive (or
object) it came from; the archives are the firmware build's own
(fw_mbedtls, fw_keyward_core, fw_keyward_atecc608, fw_keyward_hal,
fw_entropy), newlib/libgcc, and the application objects.  Flash is
.vectors + .text (code and read-only data) + .ARM.exidx + the .data
initialisers; RAM is .data + .bss (+ the fixed stack).
"""
import re
import sys
from collections import defaultdict

GROUPS = [
    ("keyward core", r"libfw_keyward_core\.a"),
    ("keyward ATECC608 backend", r"libfw_keyward_atecc608\.a"),
    ("keyward HAL (firmware I2C over UART)", r"libfw_keyward_hal\.a"),
    ("entropy source (ATECC608 Random)", r"libfw_entropy\.a"),
    ("Mbed TLS", r"libfw_mbedtls\.a"),
    ("newlib + libgcc + semihosting", r"lib(c|g|m|gcc|rdimon|nosys)(_nano)?\.a|crt|/arm-none-eabi/"),
    ("application (main, board)", r"\.(c|s|S)\.obj$|\.o$"),
]
FLASH_SECTIONS = {".vectors", ".text", ".ARM.extab", ".ARM.exidx", ".preinit_array",
                  ".init_array", ".fini_array"}


def group_of(src):
    for name, pat in GROUPS:
        if re.search(pat, src):
            return name
    return "other"


def parse(path):
    sizes = defaultdict(lambda: defaultdict(int))  # group -> kind -> bytes
    detail = []  # (group, input section, source, bytes)
    out_sizes = {}
    in_map = False
    out_sec = None
    pending = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("Linker script and memory map"):
                in_map = True
                continue
            if not in_map:
                continue
            m = re.match(r"^(\.[\w.]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)", line)
            if m:
                out_sec = m.group(1)
                out_sizes[out_sec] = int(m.group(3), 16)
                continue
            m = re.match(r"^(\.[\w.]+)\s*$", line)
            if m:
                out_sec = m.group(1)
                continue
            m = re.match(r"^ (\S+)\s*$", line)
            if m and not line.startswith("  "):
                pending = m.group(1)
                continue
            m = re.match(r"^ (\S+)?\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$", line)
            if m and (m.group(1) or pending):
                insec = m.group(1) or pending
                pending = None
                size = int(m.group(3), 16)
                src = m.group(4).strip()
                if size == 0 or out_sec is None or insec.startswith("*"):
                    continue
                if out_sec in FLASH_SECTIONS:
                    kind = "text"
                elif out_sec == ".data":
                    kind = "data"
                elif out_sec == ".bss":
                    kind = "bss"
                else:
                    continue
                sizes[group_of(src)][kind] += size
                detail.append((group_of(src), insec, src, size))
                continue
            pending = None
    return sizes, out_sizes, detail


def main():
    sizes, out, detail = parse(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "--detail":
        for g, sec, src, n in sorted(detail):
            if g.startswith("keyward") or g.startswith("entropy"):
                print(f"{g:40} {n:6} {sec} {src.split('/')[-1]}")
        return
    flash = sum(out.get(s, 0) for s in FLASH_SECTIONS) + out.get(".data", 0)
    stack = out.get(".stack", 0)
    ram = out.get(".data", 0) + out.get(".bss", 0) + stack
    print("keyward firmware (mps2-an386, Cortex-M4F, -Os), from the map file:")
    print(f"  total flash {flash} B; total RAM {ram} B "
          f"(.data {out.get('.data', 0)} + .bss {out.get('.bss', 0)} + stack {stack})")
    print(f"  {'part':40} {'.text':>8} {'.data':>6} {'.bss':>7}")
    order = [g for g, _ in GROUPS] + ["other"]
    for g in order:
        if g in sizes:
            s = sizes[g]
            print(f"  {g:40} {s['text']:8} {s['data']:6} {s['bss']:7}")
    k = [sizes.get(g, {}) for g in ("keyward core", "keyward ATECC608 backend")]
    t = sum(x.get("text", 0) for x in k)
    d = sum(x.get("data", 0) for x in k)
    b = sum(x.get("bss", 0) for x in k)
    print(f"  {'= keyward (core + ATECC608 backend)':40} {t:8} {d:6} {b:7}")
    h = sizes.get("keyward HAL (firmware I2C over UART)", {})
    print(f"  {'= keyward + HAL':40} {t + h.get('text', 0):8} {d + h.get('data', 0):6} "
          f"{b + h.get('bss', 0):7}")
    pool = sum(n for _, sec, _, n in detail if sec == ".bss.heap_pool")
    print(f"  (the application's .bss holds Mbed TLS's heap pool, {pool} B: the handshake's"
          " peak use is printed by the firmware at run time, as is the stack's high-water mark)")


if __name__ == "__main__":
    main()
