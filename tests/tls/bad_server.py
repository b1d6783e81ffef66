#!/usr/bin/env python3
"""Misbehaving TLS servers for keyward-client's exit-status tests.

    bad_server.py --dir CA_DIR --port-file FILE MODE [options]

Listens on 127.0.0.1, a free port chosen by the kernel, written to FILE once
the server is ready (the test waits for that file, not for a time).  Serves
connections one after another until killed.  CA_DIR holds kw_make_ca's
server.pem / server.key (and ca.pem).  Its sleeps are its misbehaviour (a
slow or silent peer), the behaviour under test, not a synchronisation.

Modes:
  http          answer a GET with --status, --body, --length (Content-Length
                header value; omitted: none) and --end (close_notify | eof:
                TCP FIN without close_notify | reset: TCP RST)
  slow-body     headers with Content-Length 1000, then one body byte every 2 s
  slow-handshake  read the ClientHello, then send one byte every 2 s
  hang          accept TCP and never answer
  tls-eof       TLS 1.3 handshake without session tickets, then close without
                close_notify (a server that rejects by hanging up)
  tls-silent    handshake, then keep the connection open and never answer
  reject        TLS 1.3, require a client certificate issued by --trust
                (another CA): the alert comes after the client's Finished
  backlog       a listening socket whose accept queue is full (never accepts)
"""
import argparse
import fcntl
import os
import socket
import ssl
import struct
import sys
import termios
import time


def context(args, tls13_only=False, tickets=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(args.dir, "server.pem"), os.path.join(args.dir, "server.key"))
    if tls13_only:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if not tickets:
        ctx.num_tickets = 0
    if args.trust:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.trust)
    return ctx


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def end_connection(conn, how):
    if how == "close_notify":
        try:
            conn.settimeout(3)
            conn.unwrap()  # sends close_notify (and waits for the client's)
        except (OSError, ssl.SSLError):
            pass
        conn.close()
    elif how == "eof":
        conn.shutdown(socket.SHUT_RDWR)  # FIN, no close_notify
        conn.close()
    else:  # reset
        # An RST throws away what is still in the send queue: first wait until
        # the client's kernel has acknowledged every byte, so the reset comes
        # mid-body and not instead of the body.
        for _ in range(500):
            if struct.unpack("i", fcntl.ioctl(conn.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0] == 0:
                break
            time.sleep(0.01)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


def serve_http(args, raw):
    conn = context(args).wrap_socket(raw, server_side=True)
    read_request(conn)
    head = "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\n" % (args.status, args.reason)
    if args.length is not None:
        head += "Content-Length: %d\r\n" % args.length
    conn.sendall((head + "\r\n").encode() + args.body.encode())
    end_connection(conn, args.end)


def serve_slow_body(args, raw):
    conn = context(args).wrap_socket(raw, server_side=True)
    read_request(conn)
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n")
    while True:
        conn.sendall(b"x")
        time.sleep(2)


def serve_slow_handshake(args, raw):
    raw.recv(4096)  # the ClientHello
    # A ServerHello record header, one byte at a time: each byte restarts a
    # per-read timeout, never a deadline.
    for b in b"\x16\x03\x03\x10\x00" + b"\x02" * 4096:
        raw.sendall(bytes([b]))
        time.sleep(2)


def serve_hang(args, raw):
    while raw.recv(4096):
        pass


def serve_tls_eof(args, raw):
    conn = context(args, tls13_only=True, tickets=False).wrap_socket(raw, server_side=True)
    end_connection(conn, "eof")


def serve_tls_silent(args, raw):
    conn = context(args).wrap_socket(raw, server_side=True)
    time.sleep(30)
    conn.close()


def count_records(data, rtype):
    """Complete TLS records of type rtype at the start of data (no decryption)."""
    n = off = 0
    while off + 5 <= len(data):
        length = struct.unpack(">H", data[off + 3:off + 5])[0]
        if off + 5 + length > len(data):
            break
        n += data[off] == rtype
        off += 5 + length
    return n


def serve_reject(args, raw):
    """TLS 1.3: the alert must come after the client's Finished, whatever the
    timing.  The handshake runs over memory BIOs, so the client's whole second
    flight (Certificate, CertificateVerify, Finished: three encrypted records)
    is in hand before OpenSSL judges the certificate; then the socket is
    drained until the client hangs up, so no reset overtakes the alert."""
    ctx = context(args, tls13_only=True)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=True)
    hello = b""
    while count_records(hello, 22) < 1:  # the ClientHello
        chunk = raw.recv(4096)
        if not chunk:
            return
        hello += chunk
    inc.write(hello)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    raw.sendall(out.read())
    flight = b""
    while count_records(flight, 23) < 3:
        chunk = raw.recv(4096)
        if not chunk:
            return
        flight += chunk
    inc.write(flight)
    try:
        obj.do_handshake()
    except ssl.SSLError:
        pass
    raw.sendall(out.read())  # the alert
    raw.settimeout(5)
    while raw.recv(4096):
        pass


def fill_backlog(listener, port):
    """Queue connections until one more cannot complete: the queue is full."""
    keep = []
    for _ in range(16):
        c = socket.socket()
        c.settimeout(0.5)
        try:
            c.connect(("127.0.0.1", port))
        except (socket.timeout, OSError):
            c.close()
            return keep
        keep.append(c)
    sys.exit("bad_server: the accept queue never filled")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--trust")
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--reason", default="OK")
    ap.add_argument("--body", default="")
    ap.add_argument("--length", type=int)
    ap.add_argument("--end", choices=("close_notify", "eof", "reset"), default="close_notify")
    ap.add_argument("mode")
    args = ap.parse_args()
    handlers = {
        "http": serve_http, "slow-body": serve_slow_body, "slow-handshake": serve_slow_handshake,
        "hang": serve_hang, "tls-eof": serve_tls_eof, "tls-silent": serve_tls_silent,
        "reject": serve_reject,
    }
    if args.mode != "backlog" and args.mode not in handlers:
        sys.exit("bad_server: unknown mode " + args.mode)

    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    port = ls.getsockname()[1]
    keep = None
    if args.mode == "backlog":
        ls.listen(0)
        keep = fill_backlog(ls, port)
    else:
        ls.listen(8)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    if keep is not None:
        while True:
            time.sleep(60)
    while True:
        raw, _ = ls.accept()
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            handlers[args.mode](args, raw)
        except (OSError, ssl.SSLError):
            pass
        finally:
            raw.close()


if __name__ == "__main__":
    main()
