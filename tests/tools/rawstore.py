#!/usr/bin/env python3
"""A deliberately naive DICOM C-STORE SCU for tests: it sends whatever bytes it is given as
the data set, so a node can be shown garbage, truncated or mismatched data sets that DCMTK's
own tools refuse to send. Python standard library only.

usage: rawstore.py HOST PORT CALLED_AE CALLING_AE SOP_CLASS SOP_INSTANCE (--file F | --garbage N)
                   [--truncate FRACTION] [--ts UID]
prints: the C-STORE response status as 0xNNNN (and the error comment, if any); exit 0 when a
response arrived, 3 when the association was rejected or aborted."""
import argparse
import os
import socket
import struct
import sys

APP_CONTEXT = b"1.2.840.10008.3.1.1.1"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def uid(s):
    b = s.encode()
    return b + b"\0" if len(b) % 2 else b


def item(kind, payload):
    return struct.pack(">BBH", kind, 0, len(payload)) + payload


def pdu(kind, payload):
    return struct.pack(">BBI", kind, 0, len(payload)) + payload


def associate_rq(called, calling, sop_class, ts):
    pc = struct.pack(">BBBB", 1, 0, 0, 0) + item(0x30, sop_class.encode()) + item(0x40, ts.encode())
    user = item(0x51, struct.pack(">I", 16384)) + item(0x52, b"1.2.826.0.1.3680043.9.7433.1")
    body = struct.pack(">HH", 1, 0) + called.ljust(16).encode() + calling.ljust(16).encode() + bytes(32)
    body += item(0x10, APP_CONTEXT) + item(0x20, pc) + item(0x50, user)
    return pdu(0x01, body)


def element(group, elem, value):
    return struct.pack("<HHI", group, elem, len(value)) + value


def store_command(sop_class, sop_instance):
    body = element(0, 0x0002, uid(sop_class)) + element(0, 0x0100, struct.pack("<H", 1))
    body += element(0, 0x0110, struct.pack("<H", 1)) + element(0, 0x0700, struct.pack("<H", 0))
    body += element(0, 0x0800, struct.pack("<H", 0)) + element(0, 0x1000, uid(sop_instance))
    return element(0, 0x0000, struct.pack("<I", len(body))) + body


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("connection closed by the node")
        out += chunk
    return out


def recv_pdu(s):
    kind, _, length = struct.unpack(">BBI", recv_exact(s, 6))
    return kind, recv_exact(s, length)


def send_pdvs(s, data, is_command, max_len=16000):
    flags = 0x01 if is_command else 0x00
    chunks = [data[i:i + max_len] for i in range(0, len(data), max_len)] or [b""]
    for i, chunk in enumerate(chunks):
        last = 0x02 if i == len(chunks) - 1 else 0
        pdv = struct.pack(">IBB", len(chunk) + 2, 1, flags | last) + chunk
        s.sendall(pdu(0x04, pdv))


def parse_command(data):
    out, pos = {}, 0
    while pos + 8 <= len(data):
        group, elem, length = struct.unpack("<HHI", data[pos:pos + 8])
        out[(group, elem)] = data[pos + 8:pos + 8 + length]
        pos += 8 + length
    return out


def dataset_of_file(path):
    raw = open(path, "rb").read()
    if raw[128:132] != b"DICM":
        return raw
    group_len = struct.unpack("<I", raw[140:144])[0]
    return raw[144 + group_len:]


def main():
    ap = argparse.ArgumentParser()
    for name in ("host", "port", "called", "calling", "sop_class", "sop_instance"):
        ap.add_argument(name)
    ap.add_argument("--file")
    ap.add_argument("--garbage", type=int)
    ap.add_argument("--truncate", type=float, default=1.0)
    ap.add_argument("--ts", default=EXPLICIT_LE)
    a = ap.parse_args()
    data = dataset_of_file(a.file) if a.file else os.urandom(a.garbage or 1024)
    # DICOM values have even lengths; an odd cut would be refused by the protocol layer
    # before the data set could be judged, which is a different test.
    data = data[: int(len(data) * a.truncate) & ~1]

    s = socket.create_connection((a.host, int(a.port)), timeout=30)
    s.sendall(associate_rq(a.called, a.calling, a.sop_class, a.ts))
    kind, body = recv_pdu(s)
    if kind != 0x02:
        print("association %s" % ("rejected" if kind == 0x03 else "failed (PDU 0x%02x)" % kind))
        return 3
    send_pdvs(s, store_command(a.sop_class, a.sop_instance), True)
    send_pdvs(s, data, False)
    command = b""
    while True:
        kind, body = recv_pdu(s)
        if kind != 0x04:
            print("aborted (PDU 0x%02x)" % kind)
            return 3
        pos = 0
        done = False
        while pos < len(body):
            length = struct.unpack(">I", body[pos:pos + 4])[0]
            control = body[pos + 5]
            command += body[pos + 6:pos + 4 + length]
            pos += 4 + length
            done = done or bool(control & 0x02)
        if done:
            break
    fields = parse_command(command)
    status = struct.unpack("<H", fields[(0, 0x0900)])[0]
    comment = fields.get((0, 0x0902), b"").rstrip(b"\0 ").decode(errors="replace")
    print("0x%04X %s" % (status, comment))
    s.sendall(pdu(0x05, bytes(4)))
    try:
        recv_pdu(s)
    except (ConnectionError, socket.timeout):
        pass
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
