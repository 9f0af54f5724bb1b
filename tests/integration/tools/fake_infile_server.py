#!/usr/bin/env python3
"""A hostile MariaDB server for tests: it accepts any login, answers every
statement with OK (SELECTs with one row holding "0"), and answers statements
matching ASK (a regular expression) with a LOAD DATA LOCAL INFILE request for
FILE.  Every byte a client sends back for such a request is appended to
RECORD; a client that refuses sends an empty packet and RECORD stays empty.

With a fifth argument "clear-password" it instead asks every client at
login to switch to mysql_clear_password (what an attacker in the middle of
a stripped TLS connection would do) and records what the client sends.

usage: fake_infile_server.py PORTFILE RECORD FILE ASK [clear-password]
Writes the port it listens on (127.0.0.1, a free port) to PORTFILE.
"""
import os
import re
import socket
import struct
import sys
import threading

portfile, record, wanted, ask = sys.argv[1], sys.argv[2], sys.argv[3], re.compile(sys.argv[4])
clear_password = len(sys.argv) > 5 and sys.argv[5] == "clear-password"

CAPS = (0x00000001 | 0x00000004 | 0x00000008 | 0x00000200 | 0x00008000 | 0x00000080
        | 0x00010000 | 0x00020000 | 0x00080000)  # long pw, long flag, connect db, protocol 41,
# secure conn, local files, multi statements, multi results, plugin auth


def packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload


def read_packet(conn):
    head = b""
    while len(head) < 4:
        chunk = conn.recv(4 - len(head))
        if not chunk:
            raise EOFError
        head += chunk
    n = head[0] | head[1] << 8 | head[2] << 16
    body = b""
    while len(body) < n:
        chunk = conn.recv(n - len(body))
        if not chunk:
            raise EOFError
        body += chunk
    return head[3], body


def lenenc(b):
    assert len(b) < 251
    return bytes([len(b)]) + b


def ok(seq):
    return packet(seq, b"\x00\x00\x00\x02\x00\x00\x00")


def eof(seq):
    return packet(seq, b"\xfe\x00\x00\x02\x00")


def result_one(seq):
    col = (lenenc(b"def") + lenenc(b"") + lenenc(b"") + lenenc(b"") + lenenc(b"v") + lenenc(b"v")
           + b"\x0c" + struct.pack("<HIBHB", 33, 21, 253, 0, 0) + b"\x00\x00")
    out = packet(seq, b"\x01") + packet(seq + 1, col) + eof(seq + 2)
    out += packet(seq + 3, lenenc(b"0")) + eof(seq + 4)
    return out


def serve(conn):
    try:
        salt = b"12345678901234567890"
        hs = (b"\x0a" + b"10.11.99-fake\x00" + struct.pack("<I", 1) + salt[:8] + b"\x00"
              + struct.pack("<H", CAPS & 0xFFFF) + b"\x21" + struct.pack("<H", 2)
              + struct.pack("<H", CAPS >> 16) + bytes([21]) + b"\x00" * 10 + salt[8:] + b"\x00"
              + b"mysql_native_password\x00")
        conn.sendall(packet(0, hs))
        seq, _ = read_packet(conn)
        if clear_password:
            conn.sendall(packet(seq + 1, b"\xfemysql_clear_password\x00"))
            seq, sent = read_packet(conn)
            with open(record, "ab") as f:
                f.write(sent)
        conn.sendall(ok(seq + 1))
        while True:
            seq, body = read_packet(conn)
            if not body or body[0] == 0x01:  # COM_QUIT
                return
            if body[0] != 0x03:
                conn.sendall(ok(seq + 1))
                continue
            q = body[1:].decode("utf-8", "replace")
            if ask.search(q):
                conn.sendall(packet(seq + 1, b"\xfb" + wanted.encode()))
                got = b""
                s = seq + 1
                while True:
                    s, data = read_packet(conn)
                    if not data:
                        break
                    got += data
                with open(record, "ab") as f:
                    f.write(got)
                conn.sendall(packet(s + 1, b"\xff" + struct.pack("<H", 1105) + b"#HY000refused by the fake"))
            elif q.lstrip().upper().startswith(("SELECT", "SHOW")):
                conn.sendall(result_one(seq + 1))
            else:
                conn.sendall(ok(seq + 1))
    except (EOFError, ConnectionError, OSError):
        pass
    finally:
        conn.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
open(record, "ab").close()
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
