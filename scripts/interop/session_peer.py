#!/usr/bin/env python3
"""TAZCOM session interoperability check, written from docs/wire.md alone.

An independent initiator for the encrypted sessions of docs/wire.md §3.8
(upgrade, Noise_XX handshake, binding payloads, transport frames) and the
message layer of §3.9 (records, chunking, receipts, requests, keep-alive,
close). It dials a running Rust node, runs every exchange, checks the bytes
that come back against the spec, and prints one PASS/FAIL line per step.

Dependencies: Python 3 and the `cryptography` package (X25519, Ed25519,
ChaCha20-Poly1305, SHA-256/HMAC). The Noise layer is implemented here from
the Noise Protocol Framework, revision 34, so that nothing is shared with
the Rust implementation.

Steps: 0 the spec's test vectors; 1 the upgrade line; 2 the handshake and
the binding payloads; 3a-3i messages, chunking, receipts, a request, PING,
CLOSE; 4 the node's --json events (session_opened, message texts, refused
upgrades); 5a-5n negative checks (tampered frames, violations, refused
upgrades and payloads: the node must drop the connection as specified).

Run it inside a private network namespace with only loopback (as root),
with the node example binary (the `node` example of this workspace):

  unshare -n sh -c 'ip link set lo up; ip link set lo multicast on;
      ip route add 224.0.0.0/4 dev lo;
      python3 scripts/interop/session_peer.py --spawn target/debug/examples/node'

--spawn starts the node (--interface lo --json --port 47000 --key
/tmp/interop/node.key --service-type _tzinterop._tcp.local.) and reads its
stdout. Or dial a node that is already running; step 4 then reads its
--json stdout from a file:

  python3 session_peer.py --connect 127.0.0.1:47000 --peer <64 hex> \
      [--node-log node.out]

Exit status 0 iff every step passed.
"""

import argparse
import hashlib
import hmac
import ipaddress
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def raw_pub(key):
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class CheckFailed(Exception):
    """A step's check failed: the message says which and with what bytes."""


# ---------------------------------------------------------------------------
# Noise Protocol Framework, revision 34: Noise_XX_25519_ChaChaPoly_SHA256
# (wire.md §3.8.3). Only what an XX initiator needs.
# ---------------------------------------------------------------------------

NOISE_PROTOCOL_NAME = b"Noise_XX_25519_ChaChaPoly_SHA256"  # §3.8.3
NOISE_PROLOGUE = b"tazcom/session/1"  # §3.8.3, 16 bytes, no terminator
HASHLEN = 32
DHLEN = 32
TAGLEN = 16
MAX_NONCE = 2**64 - 1


def noise_hkdf(chaining_key, ikm, outputs):
    """Noise §4.3 HKDF with HMAC-SHA256; returns `outputs` (2 or 3) values."""
    temp = hmac.new(chaining_key, ikm, hashlib.sha256).digest()
    out1 = hmac.new(temp, b"\x01", hashlib.sha256).digest()
    out2 = hmac.new(temp, out1 + b"\x02", hashlib.sha256).digest()
    if outputs == 2:
        return out1, out2
    out3 = hmac.new(temp, out2 + b"\x03", hashlib.sha256).digest()
    return out1, out2, out3


class CipherState:
    """Noise §5.1. ChaChaPoly nonce: 4 zero bytes + 64-bit little endian n."""

    def __init__(self, key=None):
        self.k = key
        self.n = 0

    def has_key(self):
        return self.k is not None

    def _nonce(self):
        if self.n >= MAX_NONCE:
            raise CheckFailed("nonce exhausted")
        return b"\x00" * 4 + struct.pack("<Q", self.n)

    def encrypt_with_ad(self, ad, plaintext):
        if self.k is None:
            return plaintext
        ct = ChaCha20Poly1305(self.k).encrypt(self._nonce(), plaintext, ad)
        self.n += 1
        return ct

    def decrypt_with_ad(self, ad, ciphertext):
        if self.k is None:
            return ciphertext
        pt = ChaCha20Poly1305(self.k).decrypt(self._nonce(), ciphertext, ad)
        self.n += 1  # only after a successful decryption (Noise §5.1)
        return pt


class SymmetricState:
    """Noise §5.2."""

    def __init__(self, protocol_name):
        if len(protocol_name) <= HASHLEN:
            self.h = protocol_name.ljust(HASHLEN, b"\x00")
        else:
            self.h = hashlib.sha256(protocol_name).digest()
        self.ck = self.h
        self.cipher = CipherState()

    def mix_key(self, ikm):
        self.ck, temp_k = noise_hkdf(self.ck, ikm, 2)
        self.cipher = CipherState(temp_k[:32])

    def mix_hash(self, data):
        self.h = hashlib.sha256(self.h + data).digest()

    def encrypt_and_hash(self, plaintext):
        ct = self.cipher.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ct)
        return ct

    def decrypt_and_hash(self, ciphertext):
        pt = self.cipher.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return pt

    def split(self):
        k1, k2 = noise_hkdf(self.ck, b"", 2)
        return CipherState(k1[:32]), CipherState(k2[:32])


class XXInitiator:
    """Noise §5.3 HandshakeState for pattern XX, initiator role:
         -> e
         <- e, ee, s, es
         -> s, se
    """

    def __init__(self, static_key, prologue):
        self.ss = SymmetricState(NOISE_PROTOCOL_NAME)
        self.ss.mix_hash(prologue)
        self.s = static_key
        self.e = None
        self.rs = None  # the responder's static key, as the handshake reports it
        self.re = None

    def write_message_1(self, payload=b""):
        self.e = X25519PrivateKey.generate()
        e_pub = raw_pub(self.e)
        self.ss.mix_hash(e_pub)  # token e (no PSK: no MixKey)
        return e_pub + self.ss.encrypt_and_hash(payload)

    def read_message_2(self, msg):
        if len(msg) < DHLEN + DHLEN + TAGLEN + TAGLEN:
            raise CheckFailed(f"message 2 too short: {len(msg)} bytes")
        self.re = msg[:DHLEN]  # token e
        self.ss.mix_hash(self.re)
        re = X25519PublicKey.from_public_bytes(self.re)
        self.ss.mix_key(self.e.exchange(re))  # token ee
        rs = self.ss.decrypt_and_hash(msg[DHLEN:DHLEN + DHLEN + TAGLEN])  # token s
        self.rs = rs
        self.ss.mix_key(self.e.exchange(X25519PublicKey.from_public_bytes(rs)))  # es
        return self.ss.decrypt_and_hash(msg[DHLEN + DHLEN + TAGLEN:])  # payload

    def write_message_3(self, payload):
        out = self.ss.encrypt_and_hash(raw_pub(self.s))  # token s
        re = X25519PublicKey.from_public_bytes(self.re)
        self.ss.mix_key(self.s.exchange(re))  # token se
        out += self.ss.encrypt_and_hash(payload)
        send, recv = self.ss.split()  # §3.8.6: first cipher initiator -> responder
        return out, send, recv


# ---------------------------------------------------------------------------
# §3.8.4 Binding payload
# ---------------------------------------------------------------------------

BINDING_DOMAIN = b"tazcom/session/1 binding"  # 24 bytes
BINDING_VERSION = 1


def encode_address(ip, port):
    """§3.8.4: family, address, port. IPv4-mapped IPv6 is sent as IPv4."""
    addr = ipaddress.ip_address(ip.split("%")[0])  # scope id not encoded
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    family = b"\x04" if addr.version == 4 else b"\x06"
    return family + addr.packed + struct.pack(">H", port)


def decode_address(buf, off):
    """Returns ((family, address bytes, port), new offset); §3.8.5 check 2."""
    if off >= len(buf):
        raise CheckFailed("BadPayload: address cut short")
    fam = buf[off]
    if fam == 4:
        n = 4
    elif fam == 6:
        n = 16
    else:
        raise CheckFailed(f"BadPayload: family {fam}")
    if off + 1 + n + 2 > len(buf):
        raise CheckFailed("BadPayload: address cut short")
    raw = buf[off + 1:off + 1 + n]
    if fam == 6 and ipaddress.IPv6Address(raw).ipv4_mapped is not None:
        raise CheckFailed("BadPayload: IPv4-mapped address under family 6")
    port = struct.unpack(">H", buf[off + 1 + n:off + 3 + n])[0]
    return buf[off:off + 3 + n], off + 3 + n


def binding_signed_bytes(noise_static, local, remote, listen_port):
    return BINDING_DOMAIN + noise_static + local + remote + struct.pack(">H", listen_port)


def build_binding_payload(identity, noise_static_pub, local, remote, listen_port):
    """§3.8.4: version, peer id, local, remote, listen port, signature."""
    sig = identity.sign(binding_signed_bytes(noise_static_pub, local, remote, listen_port))
    return (bytes([BINDING_VERSION]) + raw_pub(identity) + local + remote
            + struct.pack(">H", listen_port) + sig)


# Strict Ed25519 (§3.8.5 check 4 refers to §3.6 check 4: "RFC 8032 §5.1.7
# with canonical S and no small-order keys"). OpenSSL (behind `cryptography`)
# rejects a non-canonical S but accepts small-order keys, so they are
# rejected here: a key A is of small order iff [8]A is the identity.
_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def _ed_decode(b):
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    sign = b[31] >> 7
    if y >= _P:
        return None  # non-canonical y
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if (x * x - x2) % _P:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return x, y


def _ed_double(pt):
    x, y = pt
    d = _D * x * x * y * y % _P
    x3 = 2 * x * y * pow(1 + d, _P - 2, _P) % _P
    y3 = (y * y + x * x) * pow(1 - d, _P - 2, _P) % _P
    return x3, y3


def is_small_order(key_bytes):
    pt = _ed_decode(key_bytes)
    if pt is None:
        return True  # not a point at all: refused anyway
    for _ in range(3):
        pt = _ed_double(pt)
    return pt == (0, 1)


def check_binding_payload(payload, peer_noise_static, expected_peer, my_local, my_remote):
    """§3.8.5 checks 1-6 in order. my_local/my_remote: this side's encoded
    socket local and peer addresses. Returns the parsed fields."""
    if len(payload) < 1 or payload[0] != BINDING_VERSION:  # 1
        raise CheckFailed(f"BadPayload: version {payload[:1].hex()}")
    off = 1
    if len(payload) < off + 32:  # 2
        raise CheckFailed("BadPayload: peer id cut short")
    peer_id = payload[off:off + 32]
    off += 32
    local, off = decode_address(payload, off)
    remote, off = decode_address(payload, off)
    if len(payload) != off + 2 + 64:
        raise CheckFailed(f"BadPayload: {len(payload)} bytes, expected {off + 66}")
    listen_port = struct.unpack(">H", payload[off:off + 2])[0]
    sig = payload[off + 2:]
    # 3: a valid key decodes as a point (RFC 8032 §5.1.3); OpenSSL does
    # not check this when the key is loaded, so it is checked here.
    if _ed_decode(peer_id) is None:
        raise CheckFailed("BadPayload: peer id is not an Ed25519 key")
    vk = Ed25519PublicKey.from_public_bytes(peer_id)
    # 4: strict verification over the Noise static key the handshake
    # reported. A small-order key fails here, as a bad signature (the Rust
    # node reports "binding signature does not verify" for one).
    if is_small_order(peer_id):
        raise CheckFailed("BadSignature: small-order peer id")
    try:
        vk.verify(sig, binding_signed_bytes(peer_noise_static, local, remote, listen_port))
    except InvalidSignature:
        raise CheckFailed("BadSignature")
    if peer_id != expected_peer:  # 5
        raise CheckFailed(f"WrongPeer: {peer_id.hex()}")
    if local != my_remote or remote != my_local:  # 6
        raise CheckFailed(f"AddressMismatch: payload local {local.hex()} remote "
                          f"{remote.hex()}, socket peer {my_remote.hex()} local {my_local.hex()}")
    return {"peer_id": peer_id, "local": local, "remote": remote,
            "listen_port": listen_port}


# ---------------------------------------------------------------------------
# §3.8.1 Upgrade line, §3.8.2 frames, §3.8.6 transport
# ---------------------------------------------------------------------------

SESSION_OK_LINE = b'{"type":"SESSION_OK","v":1}\n'
MAX_LINE_BYTES = 1024
MAX_FRAME = 65535
MAX_PLAINTEXT = MAX_FRAME - TAGLEN  # 65519


def session_line(from_hex, to_hex):
    """§3.8.1: compact, in this field order, always 171 bytes."""
    line = ('{"type":"SESSION","v":1,"from":"%s","to":"%s"}\n' % (from_hex, to_hex)).encode()
    assert len(line) == 171, len(line)
    return line


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"end of stream after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def read_line(sock):
    """One line of at most 1024 bytes, read byte by byte so that nothing
    after the `\\n` is consumed (§3.8.1: the initiator checks there is none)."""
    line = b""
    while not line.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            raise EOFError(f"end of stream after {line!r}")
        line += b
        if len(line) > MAX_LINE_BYTES:
            raise CheckFailed("BadReply: line over 1024 bytes")
    return line


def judge_upgrade_reply(sock, line):
    """§3.8.1, the initiator's table."""
    if line.rstrip(b"\r\n") == b"ACK":
        raise CheckFailed("Unsupported: got ACK")
    try:
        obj = json.loads(line)
    except ValueError:
        raise CheckFailed(f"BadReply: {line!r}")
    if not (isinstance(obj, dict) and obj.get("type") == "SESSION_OK" and obj.get("v") == 1
            and type(obj.get("v")) is int):
        raise CheckFailed(f"BadReply: {line!r}")
    r, _, _ = select.select([sock], [], [], 0.05)
    if r:
        extra = sock.recv(64, socket.MSG_PEEK)
        if extra:
            raise CheckFailed(f"BadReply: bytes after the line: {extra.hex()}")


def send_frame(sock, body):
    """§3.8.2: u16 big-endian length 1..=65535, then the body."""
    if not 1 <= len(body) <= MAX_FRAME:
        raise ValueError(f"frame body of {len(body)} bytes")
    sock.sendall(struct.pack(">H", len(body)) + body)


def recv_frame(sock):
    """Returns a frame body, or None on an end of stream between frames."""
    hdr = b""
    while len(hdr) < 2:
        chunk = sock.recv(2 - len(hdr))
        if not chunk:
            if hdr:
                raise EOFError("end of stream inside a frame header")
            return None
        hdr += chunk
    (n,) = struct.unpack(">H", hdr)
    if n == 0:
        raise CheckFailed("frame of length 0 (§3.8.2)")
    return recv_exact(sock, n)


class Session:
    """An established session (§3.8.6): one record per transport frame."""

    def __init__(self, sock, send_cs, recv_cs, peer_binding, my_binding):
        self.sock = sock
        self.send_cs = send_cs
        self.recv_cs = recv_cs
        self.peer_binding = peer_binding
        self.my_binding = my_binding
        self.next_id = 1
        self.inbox = []  # records received and not yet consumed
        self.pongs_sent = 0
        self.peer_closed = None  # reason byte of the peer's CLOSE
        self.eof = False

    def new_id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def encrypt(self, plaintext):
        if len(plaintext) > MAX_PLAINTEXT:
            raise ValueError("plaintext above 65519 bytes (§3.8.6)")
        return self.send_cs.encrypt_with_ad(b"", plaintext)

    def send_record(self, plaintext):
        send_frame(self.sock, self.encrypt(plaintext))

    def recv_record(self, timeout):
        """Next decrypted record, None at an end of stream; answers PING
        with PONG at once (§3.9.5) and records the peer's CLOSE."""
        self.sock.settimeout(timeout)
        body = recv_frame(self.sock)
        if body is None:
            self.eof = True
            return None
        try:
            pt = self.recv_cs.decrypt_with_ad(b"", body)
        except InvalidTag:
            raise CheckFailed(f"a frame from the node failed decryption: {body[:32].hex()}…")
        rec = decode_record(pt)
        if rec["kind"] == PING:
            self.send_record(encode_pong(rec["token"]))
            self.pongs_sent += 1
        elif rec["kind"] == CLOSE:
            self.peer_closed = rec["reason"]
        return rec

    def wait_for(self, pred, timeout, what):
        """Reads records until one matches `pred` (others are kept in inbox)."""
        for i, rec in enumerate(self.inbox):
            if pred(rec):
                return self.inbox.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed(f"timed out waiting for {what}; other records: "
                                  f"{[describe(r) for r in self.inbox]}")
            try:
                rec = self.recv_record(left)
            except socket.timeout:
                continue
            if rec is None:
                raise CheckFailed(f"end of stream while waiting for {what}; other "
                                  f"records: {[describe(r) for r in self.inbox]}")
            if pred(rec):
                return rec
            if rec["kind"] != PING:
                self.inbox.append(rec)


def dial_session(addr, peer_id, identity, listen_port=0, timeout=3.0, log=print,
                 make_payload=None, from_id=None):
    """§3.8.1 upgrade + §3.8.3 handshake as the initiator. Returns a Session.
    `make_payload` replaces build_binding_payload and `from_id` our id in
    the SESSION line (negative checks only)."""
    my_id_hex = (from_id or raw_pub(identity)).hex()
    sock = socket.create_connection(addr, timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(session_line(my_id_hex, peer_id.hex()))
    line = read_line(sock)
    judge_upgrade_reply(sock, line)
    if line != SESSION_OK_LINE:
        log(f"  note: SESSION_OK not byte-exact: {line!r}")

    noise_static = X25519PrivateKey.generate()  # separate from the Ed25519 key
    hs = XXInitiator(noise_static, NOISE_PROLOGUE)
    msg1 = hs.write_message_1(b"")
    assert len(msg1) == 32
    send_frame(sock, msg1)

    msg2 = recv_frame(sock)
    if msg2 is None:
        raise CheckFailed("end of stream instead of handshake message 2")
    try:
        payload2 = hs.read_message_2(msg2)
    except InvalidTag:
        raise CheckFailed(f"message 2 failed decryption: {msg2.hex()}")
    my_local = encode_address(*sock.getsockname()[:2])
    my_remote = encode_address(*sock.getpeername()[:2])
    peer = check_binding_payload(payload2, hs.rs, peer_id, my_local, my_remote)
    peer["msg2_len"] = len(msg2)

    mine = (make_payload or build_binding_payload)(identity, raw_pub(noise_static),
                                                   my_local, my_remote, listen_port)
    msg3, send_cs, recv_cs = hs.write_message_3(mine)
    send_frame(sock, msg3)
    peer["msg3_len"] = len(msg3)
    return Session(sock, send_cs, recv_cs, peer, mine)


# ---------------------------------------------------------------------------
# §3.9.1 Records
# ---------------------------------------------------------------------------

MSG, MORE, RECEIPT, RESPONSE, PING, PONG, CLOSE = range(1, 8)
KIND_NAMES = {MSG: "MSG", MORE: "MORE", RECEIPT: "RECEIPT", RESPONSE: "RESPONSE",
              PING: "PING", PONG: "PONG", CLOSE: "CLOSE"}
FLAG_REQUEST = 0x01
PROTOCOL_MSG = b"/tazcom/msg/1"


def valid_protocol(p):
    return 1 <= len(p) <= 255 and all(0x21 <= b <= 0x7E for b in p)


def encode_msg(msg_id, protocol, total, chunk, flags=0):
    assert valid_protocol(protocol) and len(chunk) <= total
    return (bytes([MSG]) + struct.pack(">QBB", msg_id, flags, len(protocol)) + protocol
            + struct.pack(">I", total) + chunk)


def encode_more(msg_id, chunk):
    assert len(chunk) >= 1
    return bytes([MORE]) + struct.pack(">Q", msg_id) + chunk


def encode_ping(token):
    return bytes([PING]) + struct.pack(">Q", token)


def encode_pong(token):
    return bytes([PONG]) + struct.pack(">Q", token)


def encode_close(reason):
    return bytes([CLOSE, reason])


def decode_record(pt):
    """§3.9.1 "Decoding": any breach is a violation (raised as CheckFailed)."""
    def need(n):
        if len(pt) < n:
            raise CheckFailed(f"Truncated record {pt.hex()}")

    def exact(n):
        need(n)
        if len(pt) != n:
            raise CheckFailed(f"Trailing bytes in record {pt.hex()}")

    if not pt:
        raise CheckFailed("Empty record")
    kind = pt[0]
    if kind == MSG:
        need(11)
        msg_id, flags, plen = struct.unpack(">QBB", pt[1:11])
        need(15 + plen)
        proto = pt[11:11 + plen]
        if not valid_protocol(proto):
            raise CheckFailed(f"BadProtocol {proto!r}")
        (total,) = struct.unpack(">I", pt[11 + plen:15 + plen])
        chunk = pt[15 + plen:]
        if len(chunk) > total:
            raise CheckFailed("ChunkTooLong")
        return {"kind": kind, "id": msg_id, "flags": flags, "protocol": proto,
                "total": total, "chunk": chunk}
    if kind == MORE:
        need(9)
        return {"kind": kind, "id": struct.unpack(">Q", pt[1:9])[0], "chunk": pt[9:]}
    if kind == RECEIPT:
        exact(10)
        if pt[9] > 3:
            raise CheckFailed(f"BadStatus RECEIPT {pt.hex()}")
        return {"kind": kind, "id": struct.unpack(">Q", pt[1:9])[0], "status": pt[9]}
    if kind == RESPONSE:
        need(14)
        msg_id, status, total = struct.unpack(">QBI", pt[1:14])
        if status > 1:
            raise CheckFailed(f"BadStatus RESPONSE {pt.hex()}")
        chunk = pt[14:]
        if len(chunk) > total:
            raise CheckFailed("ChunkTooLong")
        return {"kind": kind, "id": msg_id, "status": status, "total": total,
                "chunk": chunk, "raw": pt}
    if kind in (PING, PONG):
        exact(9)
        return {"kind": kind, "token": struct.unpack(">Q", pt[1:9])[0]}
    if kind == CLOSE:
        exact(2)
        return {"kind": kind, "reason": pt[1]}
    raise CheckFailed(f"UnknownKind {kind}: {pt.hex()}")


def describe(rec):
    d = {k: (v.hex() if isinstance(v, bytes) and k == "raw" else
             (f"<{len(v)} bytes>" if isinstance(v, bytes) and k == "chunk" else
              (v.decode() if isinstance(v, bytes) else v)))
         for k, v in rec.items() if k != "kind"}
    return f"{KIND_NAMES.get(rec['kind'], rec['kind'])} {d}"


# ---------------------------------------------------------------------------
# §3.9.2 Chunking, §3.9.3 receipts and responses
# ---------------------------------------------------------------------------

def send_message(sess, protocol, body, flags=0, first_chunk=None, more_chunk=None,
                 between=None):
    """Sends one message as MSG + MOREs (§3.9.2); returns its id. By default
    every frame is filled to the largest chunk the spec allows. `between`,
    if given, is called once after the first MORE (records such as PING may
    come between chunks, §3.9.2 "Back to back")."""
    msg_id = sess.new_id()
    max_first = MAX_PLAINTEXT - 15 - len(protocol)
    max_more = MAX_PLAINTEXT - 9
    first = min(len(body), first_chunk if first_chunk is not None else max_first)
    assert first <= max_first
    sess.send_record(encode_msg(msg_id, protocol, len(body), body[:first], flags))
    off = first
    step = more_chunk or max_more
    assert 1 <= step <= max_more
    while off < len(body):
        sess.send_record(encode_more(msg_id, body[off:off + step]))
        off += step
        if between is not None:
            between()
            between = None
    return msg_id


def wait_reply(sess, msg_id, timeout=10.0):
    """The RECEIPT or RESPONSE (with its MOREs, reassembled) for `msg_id`."""
    rec = sess.wait_for(lambda r: r["kind"] in (RECEIPT, RESPONSE) and r["id"] == msg_id,
                        timeout, f"a RECEIPT/RESPONSE for id {msg_id}")
    if rec["kind"] == RESPONSE:
        body = rec["chunk"]
        while len(body) < rec["total"]:
            more = sess.wait_for(lambda r: r["kind"] in (MORE, MSG, RESPONSE), timeout,
                                 f"MORE of response {msg_id}")
            if more["kind"] != MORE or more["id"] != msg_id or not more["chunk"]:
                raise CheckFailed(f"chunk rule broken in response: {describe(more)}")
            body += more["chunk"]
            if len(body) > rec["total"]:
                raise CheckFailed("response MORE runs past its total")
        rec["body"] = body
    return rec


# ---------------------------------------------------------------------------
# The node under test: its --json stdout
# ---------------------------------------------------------------------------

class NodeLog:
    """Collects the node's JSON event lines (from a pipe or a log file)."""

    def __init__(self, path=None):
        self.events = []
        self.lock = threading.Lock()
        self.raw_lines = []
        self.path = path  # a log file: re-read at each snapshot

    def feed(self, line):
        line = line.strip()
        if not line:
            return
        with self.lock:
            self.raw_lines.append(line)
            try:
                self.events.append(json.loads(line))
            except ValueError:
                pass

    def snapshot(self):
        if self.path is not None:
            with self.lock:
                self.events, self.raw_lines = [], []
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    self.feed(line)
        with self.lock:
            return list(self.events)

    def wait(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev in self.snapshot():
                if pred(ev):
                    return ev
            time.sleep(0.05)
        return None


def spawn_node(binary, port, key, service_type, extra):
    os.makedirs(os.path.dirname(key) or ".", exist_ok=True)
    cmd = [binary, "--interface", "lo", "--json", "--port", str(port), "--key", key,
           "--service-type", service_type] + extra
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1)
    log = NodeLog()
    stderr_lines = []
    threading.Thread(target=lambda: [log.feed(l) for l in proc.stdout], daemon=True).start()
    threading.Thread(target=lambda: [stderr_lines.append(l) for l in proc.stderr],
                     daemon=True).start()
    ready = log.wait(lambda e: e.get("event") == "ready", 10)
    if ready is None:
        proc.kill()
        raise SystemExit(f"node did not print ready; stderr: {''.join(stderr_lines)[-2000:]}")
    return proc, log, ready, stderr_lines


# ---------------------------------------------------------------------------
# The steps
# ---------------------------------------------------------------------------

RESULTS = []


def step(name):
    def deco(fn):
        def run(*a, **kw):
            try:
                detail = fn(*a, **kw)
                RESULTS.append((name, True))
                print(f"PASS  {name}" + (f": {detail}" if detail else ""), flush=True)
                return True
            except (CheckFailed, EOFError, OSError, AssertionError, ValueError) as e:
                RESULTS.append((name, False))
                print(f"FAIL  {name}: {type(e).__name__}: {e}", flush=True)
                return False
        return run
    return deco


@step("0  spec test vectors (§3.8.4 binding payload, §3.9.1 MSG example)")
def step_vectors():
    ident = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    assert raw_pub(ident).hex() == \
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
    local = encode_address("192.0.2.1", 4000)
    remote = encode_address("192.0.2.2", 50000)
    signed = binding_signed_bytes(b"\x11" * 32, local, remote, 4000)
    assert signed.hex() == ("74617a636f6d2f73657373696f6e2f312062696e64696e67" + "11" * 32
                            + "04c00002010fa0" + "04c0000202c350" + "0fa0"), signed.hex()
    payload = build_binding_payload(ident, b"\x11" * 32, local, remote, 4000)
    want = ("01ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
            "04c00002010fa004c0000202c3500fa0"
            "eae6591203f23708e264084da391d9973fecfb94f19d7caccc7dbb56c8a1bdfc"
            "427265be1f879b4d780f2f4608ed607606af7f9607feeca51d3ac7a62c648d0b")
    assert payload.hex() == want, payload.hex()
    assert encode_address("::ffff:192.0.2.1", 4000) == local
    msg = encode_msg(1, PROTOCOL_MSG, 2, b"hi")
    assert msg.hex() == ("01" "0000000000000001" "00" "0d" + PROTOCOL_MSG.hex()
                         + "00000002" "6869") and len(msg) == 30
    return "binding payload 113 bytes and MSG 30 bytes match"


class Ctx:
    pass


@step("1  upgrade: SESSION line (171 bytes) answered by SESSION_OK (28 bytes)")
def step_upgrade(ctx):
    ctx.expected_rejections.append("handshake_failed")  # §3.8.1 "Server" table
    # Done together with the handshake in dial_session; this step checks the
    # line-level exchange separately on its own connection so that a failure
    # here is told apart from a handshake failure.
    sock = socket.create_connection(ctx.addr, timeout=3)
    try:
        line = session_line(ctx.my_id.hex(), ctx.peer_id.hex())
        sock.sendall(line)
        reply = read_line(sock)
        judge_upgrade_reply(sock, reply)
        if reply != SESSION_OK_LINE:
            raise CheckFailed(f"reply not the exact 28 bytes: {reply!r}")
        return f"sent {len(line)} bytes, got {reply!r}"
    finally:
        sock.close()  # abandoning a handshake: the node counts handshake_failed


@step("2  Noise_XX handshake + binding payloads (§3.8.3-§3.8.5)")
def step_handshake(ctx):
    ctx.sess = dial_session(ctx.addr, ctx.peer_id, ctx.identity, ctx.listen_port)
    p = ctx.sess.peer_binding
    if p["msg2_len"] != 209:
        raise CheckFailed(f"message 2 is {p['msg2_len']} bytes, spec says 209 (IPv4)")
    if p["msg3_len"] != 177:
        raise CheckFailed(f"message 3 is {p['msg3_len']} bytes, spec says 177 (IPv4)")
    # The node's listen port: §3.8.4 says the Rust responder sends its listening port.
    if p["listen_port"] != ctx.addr[1]:
        raise CheckFailed(f"node's listen port field {p['listen_port']}, dialled {ctx.addr[1]}")
    # The responder checks our payload after message 3; a failure there
    # shows up as an end of stream on the first exchange (step 3a).
    return (f"node id {p['peer_id'].hex()[:8]}…, local {p['local'].hex()}, remote "
            f"{p['remote'].hex()}, listen port {p['listen_port']}; our listen port "
            f"field {ctx.listen_port}")


TEXT_SMALL = "héllo from the Python peer ✓ (§3.9)"


@step("3a MSG on /tazcom/msg/1 -> RECEIPT 0 (delivered)")
def step_msg(ctx):
    body = TEXT_SMALL.encode()
    i = send_message(ctx.sess, PROTOCOL_MSG, body)
    r = wait_reply(ctx.sess, i)
    if r["kind"] != RECEIPT or r["status"] != 0:
        raise CheckFailed(f"got {describe(r)}")
    ctx.texts.append(TEXT_SMALL)
    return f"id {i}: {describe(r)}"


@step("3b MSG on an unserved protocol -> RECEIPT 1 (no protocol)")
def step_unserved(ctx):
    i = send_message(ctx.sess, b"/interop/nobody/1", b"is anyone there?")
    r = wait_reply(ctx.sess, i)
    if r["kind"] != RECEIPT or r["status"] != 1:
        raise CheckFailed(f"got {describe(r)}")
    return f"id {i}: {describe(r)}"


def big_text(n_bytes):
    # Mixes 1-, 2- and 3-byte UTF-8 characters so that chunk boundaries fall
    # inside characters: reassembly is on bytes (§3.9.2).
    unit = "abcdefghij-äöü-€✓-0123456789\n"
    s = (unit * (n_bytes // len(unit.encode()) + 1))
    b = s.encode()[:n_bytes]
    while True:  # cut back to a character boundary, pad to n_bytes exactly
        try:
            return b.decode() + "." * (n_bytes - len(b))
        except UnicodeDecodeError:
            b = b[:-1]


@step("3c 200,000-byte message in MSG + MORE chunks -> RECEIPT 0")
def step_big(ctx):
    text = big_text(200_000)
    body = text.encode()
    i = send_message(ctx.sess, PROTOCOL_MSG, body)
    r = wait_reply(ctx.sess, i)
    if r["kind"] != RECEIPT or r["status"] != 0:
        raise CheckFailed(f"got {describe(r)}")
    ctx.texts.append(text)
    n_more = -(-(len(body) - 65491) // 65510)
    return f"id {i}: {len(body)} bytes as MSG (65491) + {n_more} MORE: {describe(r)}"


@step("3d split unevenly (first chunk 0, MOREs of 7,777 bytes, a PING between "
      "chunks) -> PONG, then RECEIPT 0")
def step_big_uneven(ctx):
    text = big_text(100_003)
    body = text.encode()
    token = 0xFEEDFACE
    i = send_message(ctx.sess, PROTOCOL_MSG, body, first_chunk=0, more_chunk=7777,
                     between=lambda: ctx.sess.send_record(encode_ping(token)))
    r = wait_reply(ctx.sess, i)
    if r["kind"] != RECEIPT or r["status"] != 0:
        raise CheckFailed(f"got {describe(r)}")
    pong = ctx.sess.wait_for(lambda r: r["kind"] == PONG and r["token"] == token, 1,
                             "the PONG to the PING sent between chunks")
    ctx.texts.append(text)
    return f"id {i}: {describe(r)}; {describe(pong)}"


@step("3e empty message (MSG total 0, no chunk) -> RECEIPT 0")
def step_empty(ctx):
    i = send_message(ctx.sess, PROTOCOL_MSG, b"")
    r = wait_reply(ctx.sess, i)
    if r["kind"] != RECEIPT or r["status"] != 0:
        raise CheckFailed(f"got {describe(r)}")
    ctx.texts.append("")
    return f"id {i}: {describe(r)}"


@step("3f message of 1 MiB + 1 bytes -> RECEIPT 2 (too large), session stays up")
def step_too_large(ctx):
    body = b"x" * (1_048_576 + 1)
    i = send_message(ctx.sess, PROTOCOL_MSG, body)
    r = wait_reply(ctx.sess, i)
    if r["kind"] != RECEIPT or r["status"] != 2:
        raise CheckFailed(f"got {describe(r)}")
    j = send_message(ctx.sess, PROTOCOL_MSG, b"after the large one")
    r2 = wait_reply(ctx.sess, j)
    if r2["kind"] != RECEIPT or r2["status"] != 0:
        raise CheckFailed(f"the next message got {describe(r2)}")
    ctx.texts.append("after the large one")
    return f"id {i}: {describe(r)}; id {j}: {describe(r2)}"


@step("3g PING -> PONG with the same token")
def step_ping(ctx):
    token = 0x0123456789ABCDEF
    ctx.sess.send_record(encode_ping(token))
    r = ctx.sess.wait_for(lambda r: r["kind"] == PONG, 5, "PONG")
    if r["token"] != token:
        raise CheckFailed(f"PONG token {r['token']:#x}, sent {token:#x}")
    return f"token {token:#018x} echoed"


@step("3h request (FLAG_REQUEST) on /tazcom/msg/1 -> reply reported")
def step_request(ctx):
    body = "a request the node example will not answer".encode()
    i = send_message(ctx.sess, PROTOCOL_MSG, body, flags=FLAG_REQUEST)
    r = wait_reply(ctx.sess, i, timeout=35)
    ctx.request_text = body.decode()
    # §3.9.3: a request gets exactly one reply: RESPONSE when delivered to the
    # application (status 1 "dropped", total 0, no chunk, when the
    # application dropped it), RECEIPT only when refused (1, 2 or 3).
    if r["kind"] == RECEIPT and r["status"] == 0:
        raise CheckFailed(f"RECEIPT 0 to a request (§3.9.3 says never): {describe(r)}")
    if r["kind"] == RESPONSE and r["status"] == 1 and (r["total"] != 0 or r["chunk"]):
        raise CheckFailed(f"RESPONSE 1 with a body: {r['raw'].hex()}")
    ctx.request_reply = r
    return f"id {i}: {describe(r)}"


@step("3i CLOSE -> node answers CLOSE and ends the connection")
def step_close(ctx):
    s = ctx.sess
    s.send_record(encode_close(0))  # nothing of ours is in flight (§3.9.6)
    r = s.wait_for(lambda r: r["kind"] == CLOSE, 5, "the node's CLOSE")
    # Both sent and received CLOSE: half-close, read (discarding) to the FIN.
    s.sock.shutdown(socket.SHUT_WR)
    extra = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            rec = s.recv_record(deadline - time.monotonic())
        except socket.timeout:
            raise CheckFailed("the node did not end the connection within 3 s")
        if rec is None:
            break
        extra.append(describe(rec))
    else:
        raise CheckFailed("the node did not end the connection within 3 s")
    s.sock.close()
    if r["reason"] != 0:  # §3.9.6: "the Rust side answers with reason 0"
        raise CheckFailed(f"node answered CLOSE with reason {r['reason']}")
    return f"node CLOSE reason {r['reason']}, then FIN" + (f"; also got {extra}" if extra else "")


@step("4  node stdout: session_opened names our id, message texts exact")
def step_node_log(ctx):
    if ctx.log is None:
        return "skipped (no --spawn and no --node-log)"
    me = ctx.my_id.hex()
    opened = ctx.log.wait(lambda e: e.get("event") == "session_opened"
                          and me in json.dumps(e), 3)
    if opened is None:
        evs = [e for e in ctx.log.snapshot() if "session" in str(e.get("event"))]
        raise CheckFailed(f"no session_opened naming {me}; session events: {evs}")
    want = list(ctx.texts)
    got = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        got = [e for e in ctx.log.snapshot() if e.get("event") == "message"]
        if len(got) >= len(want):
            break
        time.sleep(0.1)
    texts = [e.get("text") for e in got if e.get("peer") == me
             and e.get("protocol") == PROTOCOL_MSG.decode()]
    for t in want:
        if t not in texts:
            raise CheckFailed(f"no message event with text of {len(t)} chars "
                              f"{t[:40]!r}…; got {[x[:40] if x else x for x in texts]}")
    if any(len(t or "") > 1_048_576 for t in texts):
        raise CheckFailed("the too-large message was delivered")
    extra = [t for t in texts if t not in want]
    note = f"; also printed (the request?): {[x[:60] for x in extra]}" if extra else ""
    return (f"session_opened {json.dumps(opened)[:160]}; {len(want)} texts exact "
            f"(longest {max(len(t) for t in want)} chars){note}")


# --- negative checks: the node must refuse or drop, and say nothing -------

@step("4b node stdout: each refused upgrade reported with the §3.8.1 reason")
def step_rejections(ctx):
    # The node example prints {"event":"rejected","reason":...}; the reasons
    # are the `rejected_<reason>` counters of §3.8.1 "Server".
    if ctx.log is None:
        return "skipped (no --spawn and no --node-log)"
    want = ctx.expected_rejections
    got = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        got = [e.get("reason") for e in ctx.log.snapshot() if e.get("event") == "rejected"]
        if len(got) >= len(want):
            break
        time.sleep(0.1)
    if got != want:
        raise CheckFailed(f"expected {want}, node reported {got}")
    return ", ".join(got)


def read_until_end(sock, timeout=3.0):
    """Raw bytes the node sends until it ends the connection. Returns
    (bytes, "FIN" | "reset" | None if still open after `timeout`)."""
    data = b""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return data, "reset"
        if not chunk:
            return data, "FIN"
        data += chunk
    return data, None


def records_until_end(sess, timeout=3.0):
    """Decrypted records the node sends until it ends the connection."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            rec = sess.recv_record(deadline - time.monotonic())
        except socket.timeout:
            return got, None
        except ConnectionResetError:
            return got, "reset"
        if rec is None:
            return got, "FIN"
        got.append(rec)
    return got, None


def tamper_check(ctx, mutate, what):
    """Opens a session, proves it works, sends one frame changed by `mutate`
    (bytes of a valid frame body -> bytes sent, frame header included), and
    expects the node to drop the connection without sending anything."""
    s = dial_session(ctx.addr, ctx.peer_id, ctx.identity, ctx.listen_port)
    i = send_message(s, PROTOCOL_MSG, b"before tampering")
    r = wait_reply(s, i)
    if r["kind"] != RECEIPT or r["status"] != 0:
        raise CheckFailed(f"setup message got {describe(r)}")
    ctx.texts.append("before tampering")
    body = s.encrypt(encode_msg(s.new_id(), PROTOCOL_MSG, 9, b"tampered!"))
    wire = mutate(body)
    s.sock.sendall(wire)
    got, ended = records_until_end(s)
    s.sock.close()
    if ended is None:
        raise CheckFailed(f"connection still open 3 s after {what} "
                          f"(sent {wire[:40].hex()}…); records: {[describe(g) for g in got]}")
    if any(g["kind"] != PING for g in got):
        raise CheckFailed(f"node sent {[describe(g) for g in got]} (§3.9.7: nothing)")
    if ctx.log is not None:
        time.sleep(0.3)
        if any(e.get("event") == "message" and e.get("text") == "tampered!"
               for e in ctx.log.snapshot()):
            raise CheckFailed("the tampered message was delivered")
    return f"connection ended by {ended}, nothing sent (sent {wire[:12].hex()}…)"


def flip(body, index):
    b = bytearray(body)
    b[index] ^= 0x01
    return struct.pack(">H", len(b)) + bytes(b)


@step("5a a frame with one flipped ciphertext byte -> node drops, sends nothing")
def step_tamper_body(ctx):
    return tamper_check(ctx, lambda body: flip(body, 5), "a flipped ciphertext byte")


@step("5b a frame with one flipped tag byte -> node drops, sends nothing")
def step_tamper_tag(ctx):
    return tamper_check(ctx, lambda body: flip(body, len(body) - 1), "a flipped tag byte")


@step("5c a frame of length 0 -> node drops, sends nothing")
def step_zero_frame(ctx):
    return tamper_check(ctx, lambda body: b"\x00\x00", "a zero-length frame")


@step("5d a record of unknown kind 9 -> node sends CLOSE 2 (violation), drops")
def step_bad_kind(ctx):
    s = dial_session(ctx.addr, ctx.peer_id, ctx.identity, ctx.listen_port)
    s.send_record(b"\x09" + b"\x00" * 8)
    got, ended = records_until_end(s)
    s.sock.close()
    closes = [g for g in got if g["kind"] == CLOSE]
    if ended is None:
        raise CheckFailed(f"still open; records {[describe(g) for g in got]}")
    if not closes or closes[0]["reason"] != 2:
        raise CheckFailed(f"expected CLOSE 2 before the end; got {[describe(g) for g in got]}")
    return f"CLOSE reason 2, then {ended}"


@step("5e SESSION with another `to` -> closed without reply")
def step_wrong_to(ctx):
    ctx.expected_rejections.append("upgrade_wrong_peer")  # §3.8.1 "Server" table
    sock = socket.create_connection(ctx.addr, timeout=3)
    other = raw_pub(Ed25519PrivateKey.generate()).hex()
    sock.sendall(session_line(ctx.my_id.hex(), other))
    data, ended = read_until_end(sock)
    sock.close()
    if ended is None or data:
        raise CheckFailed(f"got {data!r}, end {ended}")
    return f"{ended}, no byte"


@step("5f SESSION line with message 1 in the same write -> closed without reply")
def step_pipelined(ctx):
    ctx.expected_rejections.append("bad_upgrade")  # §3.8.1 "Server" table
    sock = socket.create_connection(ctx.addr, timeout=3)
    hs = XXInitiator(X25519PrivateKey.generate(), NOISE_PROLOGUE)
    msg1 = hs.write_message_1(b"")
    sock.sendall(session_line(ctx.my_id.hex(), ctx.peer_id.hex())
                 + struct.pack(">H", len(msg1)) + msg1)
    data, ended = read_until_end(sock)
    sock.close()
    if ended is None or data:
        raise CheckFailed(f"got {data!r}, end {ended}")
    return f"{ended}, no byte"


@step("5g handshake message 1 with a non-empty payload -> no message 2, closed")
def step_msg1_payload(ctx):
    ctx.expected_rejections.append("handshake_failed")  # §3.8.1 "Server" table
    sock = socket.create_connection(ctx.addr, timeout=3)
    sock.sendall(session_line(ctx.my_id.hex(), ctx.peer_id.hex()))
    judge_upgrade_reply(sock, read_line(sock))
    hs = XXInitiator(X25519PrivateKey.generate(), NOISE_PROLOGUE)
    msg1 = hs.write_message_1(b"x")  # no key yet: the payload is in clear
    send_frame(sock, msg1)
    data, ended = read_until_end(sock)
    sock.close()
    if ended is None or data:
        raise CheckFailed(f"got {data.hex()}, end {ended}")
    return f"33-byte message 1 -> {ended}, no byte"


def negative_payload_check(ctx, make_payload, what, from_id=None):
    s = dial_session(ctx.addr, ctx.peer_id, ctx.identity, ctx.listen_port,
                     make_payload=make_payload, from_id=from_id)
    try:
        s.send_record(encode_ping(7))
    except OSError:
        pass  # already closed by the node
    got, ended = records_until_end(s)
    s.sock.close()
    if ended is None or got:
        raise CheckFailed(f"{what}: got {[describe(g) for g in got]}, end {ended}")
    return f"{ended} after message 3, nothing sent"


@step("5h our payload signs another remote address -> node drops after message 3")
def step_addr_mismatch(ctx):
    ctx.expected_rejections.append("address_mismatch")  # §3.8.1 "Server" table
    def wrong_remote(identity, noise_pub, local, remote, port):
        return build_binding_payload(identity, noise_pub, local,
                                     encode_address("127.0.0.2", 1), port)
    return negative_payload_check(ctx, wrong_remote, "AddressMismatch")


@step("5i our payload with a bad signature -> node drops after message 3")
def step_bad_sig(ctx):
    ctx.expected_rejections.append("handshake_failed")  # §3.8.1 "Server" table
    def bad_sig(identity, noise_pub, local, remote, port):
        p = bytearray(build_binding_payload(identity, noise_pub, local, remote, port))
        p[-1] ^= 0x01
        return bytes(p)
    return negative_payload_check(ctx, bad_sig, "BadSignature")


@step("5j our payload signed over another Noise static key -> node drops")
def step_other_static(ctx):
    ctx.expected_rejections.append("handshake_failed")  # §3.8.1 "Server" table
    def other_static(identity, noise_pub, local, remote, port):
        return build_binding_payload(identity, raw_pub(X25519PrivateKey.generate()),
                                     local, remote, port)
    return negative_payload_check(ctx, other_static, "BadSignature (other key)")


ED25519_L = 2**252 + 27742317777372353535851937790883648493
IDENTITY_POINT = (1).to_bytes(32, "little")  # the neutral element: order 1


def forge_small_order_payload(identity, noise_pub, local, remote, port):
    """A binding payload whose peer id is the identity point, with a
    signature (R, S) = ([a]B, a mod L) that passes the cofactorless
    equation [S]B = R + [k]A for any message, since [k]A is the identity.
    Only the "no small-order keys" rule of strict verification stops it."""
    seed = os.urandom(32)
    a = int.from_bytes(hashlib.sha512(seed).digest()[:32], "little")
    a = (a & ((1 << 254) - 8)) | (1 << 254)  # RFC 8032 §5.1.5 clamping
    r_point = raw_pub(Ed25519PrivateKey.from_private_bytes(seed))  # [a]B
    sig = r_point + (a % ED25519_L).to_bytes(32, "little")
    return (bytes([BINDING_VERSION]) + IDENTITY_POINT + local + remote
            + struct.pack(">H", port) + sig)


@step("5k peer id of small order with a signature that passes a non-strict "
      "check -> node drops")
def step_small_order(ctx):
    ctx.expected_rejections.append("handshake_failed")  # §3.8.1 "Server" table
    # Sanity: the forgery is accepted by OpenSSL's verify (so a peer must
    # reject small-order keys itself) and rejected by our strict check.
    forged = forge_small_order_payload(None, b"\x22" * 32, encode_address("127.0.0.1", 1),
                                       encode_address("127.0.0.1", 2), 0)
    Ed25519PublicKey.from_public_bytes(IDENTITY_POINT).verify(
        forged[-64:], binding_signed_bytes(b"\x22" * 32, forged[33:40], forged[40:47], 0))
    return negative_payload_check(ctx, forge_small_order_payload, "small-order key",
                                  from_id=IDENTITY_POINT)


@step("5m SESSION after another line on the connection -> closed without reply")
def step_not_first_line(ctx):
    ctx.expected_rejections.append("bad_upgrade")  # §3.8.1 "Server" table
    sock = socket.create_connection(ctx.addr, timeout=3)
    sock.sendall(('{"type":"HELLO","from":"%s"}\n' % ctx.my_id.hex()).encode())
    ack = read_line(sock)
    if ack != b"ACK\n":
        raise CheckFailed(f"legacy HELLO got {ack!r}")
    sock.sendall(session_line(ctx.my_id.hex(), ctx.peer_id.hex()))
    data, ended = read_until_end(sock)
    sock.close()
    if ended is None or data:
        raise CheckFailed(f"got {data!r}, end {ended}")
    return f"HELLO -> ACK, then SESSION -> {ended}, no byte"


@step("5n SESSION with v 2 -> closed without reply")
def step_wrong_version(ctx):
    ctx.expected_rejections.append("bad_upgrade")  # §3.8.1 "Server" table
    sock = socket.create_connection(ctx.addr, timeout=3)
    sock.sendall(('{"type":"SESSION","v":2,"from":"%s","to":"%s"}\n'
                  % (ctx.my_id.hex(), ctx.peer_id.hex())).encode())
    data, ended = read_until_end(sock)
    sock.close()
    if ended is None or data:
        raise CheckFailed(f"got {data!r}, end {ended}")
    return f"{ended}, no byte"


@step("5l payload of another key than the SESSION line's `from` -> node drops")
def step_wrong_peer(ctx):
    ctx.expected_rejections.append("handshake_failed")  # WrongPeer, §3.8.5 check 5
    other = Ed25519PrivateKey.generate()

    def other_identity(identity, noise_pub, local, remote, port):
        return build_binding_payload(other, noise_pub, local, remote, port)
    return negative_payload_check(ctx, other_identity, "WrongPeer")


def parse_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spawn", metavar="NODE_BINARY",
                    help="start the node example and read its --json stdout")
    ap.add_argument("--port", type=int, default=47000, help="node port with --spawn")
    ap.add_argument("--key", default="/tmp/interop/node.key", help="node key with --spawn")
    ap.add_argument("--service-type", default="_tzinterop._tcp.local.")
    ap.add_argument("--connect", metavar="IP:PORT", help="a node already running")
    ap.add_argument("--peer", metavar="HEX", help="its peer id (with --connect)")
    ap.add_argument("--node-log", metavar="FILE", help="its --json stdout (with --connect)")
    ap.add_argument("--save-node-log", metavar="FILE",
                    help="with --spawn: write the node's stdout lines there")
    ap.add_argument("--listen-port", type=int, default=0,
                    help="listen port field of our binding payload (0: we do not listen)")
    args = ap.parse_args()

    ctx = Ctx()
    ctx.identity = Ed25519PrivateKey.generate()
    ctx.my_id = raw_pub(ctx.identity)
    ctx.listen_port = args.listen_port
    ctx.texts = []
    ctx.expected_rejections = []
    ctx.log = None
    proc = None
    if args.spawn:
        proc, ctx.log, ready, stderr_lines = spawn_node(args.spawn, args.port, args.key,
                                                        args.service_type, [])
        ctx.addr = ("127.0.0.1", args.port)
        ctx.peer_id = bytes.fromhex(ready["peer"])
    else:
        if not (args.connect and args.peer):
            ap.error("give --spawn, or --connect and --peer")
        ctx.addr = parse_addr(args.connect)
        ctx.peer_id = bytes.fromhex(args.peer)
        if args.node_log:
            ctx.log = NodeLog(args.node_log)
    if len(ctx.peer_id) != 32:
        ap.error("a peer id is 64 hex characters")
    print(f"node {ctx.peer_id.hex()} at {ctx.addr[0]}:{ctx.addr[1]}; "
          f"we are {ctx.my_id.hex()}", flush=True)

    try:
        step_vectors()
        step_upgrade(ctx)
        if step_handshake(ctx):
            step_msg(ctx)
            step_unserved(ctx)
            step_big(ctx)
            step_big_uneven(ctx)
            step_empty(ctx)
            step_too_large(ctx)
            step_ping(ctx)
            step_request(ctx)
            step_close(ctx)
        for neg_step in (step_tamper_body, step_tamper_tag, step_zero_frame, step_bad_kind,
                         step_wrong_to, step_pipelined, step_msg1_payload,
                         step_addr_mismatch, step_bad_sig, step_other_static,
                         step_small_order, step_wrong_peer, step_not_first_line,
                         step_wrong_version):
            neg_step(ctx)
        step_node_log(ctx)
        step_rejections(ctx)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
            if args.save_node_log:
                with open(args.save_node_log, "w", encoding="utf-8") as f:
                    f.write("\n".join(ctx.log.raw_lines) + "\n")
    failed = [n for n, ok in RESULTS if not ok]
    print(f"{'FAIL' if failed else 'PASS'}  overall: {len(RESULTS) - len(failed)}/"
          f"{len(RESULTS)} steps passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
