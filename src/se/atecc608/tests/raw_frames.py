#!/usr/bin/env python3
"""Raw frames to keyward-atecc608-emu with no keyward code at all.

Speaks the emulator's socket bus (src/hal/i2c_socket_proto.h: request
op|addr|len16|payload, reply result|len16|payload) and builds every ATECC608
frame here, with a CRC-16 written from the datasheet facts.  Checks: NAK
while asleep, the wake reply 04 11 33 43, Info (revision), Random (the fixed
pattern of an unlocked chip), a bad CRC giving status 0xFF, a parse error
giving 0x03, the read-address reset, idle (NAK) and a wake after it.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

ADDR = 0x60
ACK, NAK = 0, 1
failures = 0
passes = 0


# Counts as tests/support/kwcheck.sh does: the count is printed, zero checks fail.
def check(cond, what):
    global failures, passes
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1
    else:
        passes += 1


def crc16(data):
    reg = 0
    for byte in data:
        for bit in range(8):
            if ((byte >> bit) & 1) != (reg >> 15):
                reg = ((reg << 1) ^ 0x8005) & 0xFFFF
            else:
                reg = (reg << 1) & 0xFFFF
    return bytes([reg & 0xFF, reg >> 8])


def packet(opcode, p1, p2, data=b""):
    body = bytes([7 + len(data), opcode, p1]) + struct.pack("<H", p2) + data
    return body + crc16(body)


class Bus:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise EOFError("emulator closed the socket")
            buf += chunk
        return buf

    def xfer(self, op, addr=0, payload=b"", length=None):
        n = len(payload) if length is None else length
        self.s.sendall(bytes([ord(op), addr]) + struct.pack("<H", n) + payload)
        result, rlen = struct.unpack("<BH", self._recv(3))
        return result, self._recv(rlen)

    def wake(self):
        return self.xfer("W")[0]

    def write(self, data):
        return self.xfer("w", ADDR, data)[0]

    def read(self, n):
        return self.xfer("r", ADDR, length=n)

    def response(self, timeout=2.0):
        """Polls until the chip answers, then reads count and the rest."""
        end = time.monotonic() + timeout
        while True:
            r, first = self.read(1)
            if r == ACK:
                break
            if time.monotonic() > end:
                return None
            time.sleep(0.002)
        count = first[0]
        r, rest = self.read(count - 1)
        return first + rest if r == ACK else None

    def command(self, pkt):
        if self.write(b"\x03" + pkt) != ACK:
            return None
        return self.response()


def status_reply(st):
    return bytes([4, st]) + crc16(bytes([4, st]))


def main():
    emu = os.environ["KW_EMU"]
    with tempfile.TemporaryDirectory(prefix="kw-raw.") as d:
        sock = os.path.join(d, "emu.sock")
        proc = subprocess.Popen([emu, "--state", os.path.join(d, "emu.state"), "--socket", sock,
                                 "--time-scale", "1"], stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                if os.path.exists(sock):
                    try:
                        bus = Bus(sock)
                        break
                    except OSError:
                        pass
                time.sleep(0.02)
            else:
                check(False, "emulator socket appears")
                return 1
            run(bus)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        # A second chip with a 400 ms watchdog for the 0xEE rule.
        sock2 = os.path.join(d, "wd.sock")
        proc = subprocess.Popen([emu, "--state", os.path.join(d, "wd.state"), "--socket", sock2,
                                 "--time-scale", "1", "--watchdog-ms", "400"],
                                stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    bus = Bus(sock2)
                    break
                except OSError:
                    time.sleep(0.02)
            watchdog(bus)
            ctl = subprocess.run([emu, "--socket", sock2, "--ctl", "stats"], capture_output=True,
                                 text=True).stdout
            check("watchdog_refusals=1\n" in ctl, "emulator counted watchdog_refusals=1")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print("atecc608_raw_frames: %d checks passed, %d failed" % (passes, failures))
    return 1 if failures or not passes else 0


def run(bus):
    check(crc16(b"\x04\x11") == b"\x33\x43", "own CRC: 04 11 -> 33 43")
    check(crc16(b"\x07\x30\x00\x00\x00") == b"\x03\x5d", "own CRC: Info -> 03 5D")
    check(bus.read(4)[0] == NAK, "asleep: read NAKed")
    check(bus.wake() == ACK, "wake pulse")
    time.sleep(0.0015)  # tWHI
    r, data = bus.read(4)
    check(r == ACK and data == b"\x04\x11\x33\x43", "wake reply 04 11 33 43: %s" % data.hex())

    resp = bus.command(packet(0x30, 0x00, 0))
    check(resp is not None and len(resp) == 7 and resp[1:3] == b"\x00\x00" and resp[3] == 0x60
          and resp[5:] == crc16(resp[:5]), "Info mode 0: revision %s" % (resp or b"").hex())

    resp = bus.command(packet(0x1B, 0x00, 0))
    check(resp is not None and len(resp) == 35 and resp[0] == 35 and resp[33:] == crc16(resp[:33]),
          "Random (count 7, no data): 32 bytes + CRC")
    if resp:
        check(resp[1:33] == b"\xff\xff\x00\x00" * 8,
              "Random on an unlocked chip: the fixed pattern FF FF 00 00...")

    # The read-address reset (word address 0x00) rereads the same reply.
    resp = bus.command(packet(0x30, 0x00, 0))
    check(bus.write(b"\x00") == ACK, "word address 0x00 (reset the I/O counter) ACKed")
    r, again = bus.read(7)
    check(r == ACK and again == resp, "after the reset the reply is read again from its count")

    pkt = bytearray(packet(0x30, 0x00, 0))
    pkt[-1] ^= 0xFF
    resp = bus.command(bytes(pkt))
    check(resp == status_reply(0xFF), "bad CRC -> status 0xFF: %s" % (resp or b"").hex())

    pkt = bytearray(packet(0x30, 0x00, 0))
    pkt[0] = 8  # count disagrees with the bytes sent
    resp = bus.command(bytes(pkt))
    check(resp == status_reply(0xFF), "bad count -> status 0xFF: %s" % (resp or b"").hex())

    resp = bus.command(packet(0x30, 0x07, 0))  # Info has no mode 7
    check(resp == status_reply(0x03), "Info mode 7 -> parse error 0x03: %s" % (resp or b"").hex())

    resp = bus.command(packet(0x30, 0x00, 0, b"\x00" * 4))  # Info takes no data
    check(resp == status_reply(0x03), "Info with 4 data bytes -> parse error 0x03: %s"
          % (resp or b"").hex())

    resp = bus.command(packet(0x99, 0x00, 0))  # no such opcode
    check(resp == status_reply(0x03), "unknown opcode -> parse error 0x03: %s" % (resp or b"").hex())

    check(bus.write(b"\x02") == ACK, "idle")
    check(bus.read(1)[0] == NAK, "idle: read NAKed")
    check(bus.wake() == ACK, "wake from idle")
    time.sleep(0.0015)
    r, data = bus.read(4)
    check(r == ACK and data == b"\x04\x11\x33\x43", "wake reply after idle")
    check(bus.write(b"\x01") == ACK, "sleep")


def watchdog(bus):
    """A command that cannot finish before the watchdog expires is answered
    0xEE and not executed; one that can is executed."""
    check(bus.wake() == ACK, "wake (400 ms watchdog)")
    time.sleep(0.0015)
    bus.read(4)
    time.sleep(0.300)  # 100 ms of watchdog left
    resp = bus.command(packet(0x30, 0x00, 0))  # Info: 5 ms
    check(resp is not None and len(resp) == 7, "Info with 100 ms left: executed")
    resp = bus.command(packet(0x40, 0x04, 0))  # GenKey: 115 ms
    check(resp == status_reply(0xEE), "GenKey (115 ms) with < 100 ms left -> 0xEE: %s"
          % (resp or b"").hex())
    check(bus.write(b"\x02") == ACK, "idle stops the watchdog")


if __name__ == "__main__":
    sys.exit(main())
