"""A fake MySQL server for tests: the real handshake, a real password check, then almost nothing.

No MySQL server is installed where the tests run, but what we must prove is only that a client (the
real mysqld_exporter) logs in with exactly the user and password of the spec. So this server speaks
protocol 10 over TCP on loopback: it sends a greeting with a random 20-byte scramble and the
`mysql_native_password` plugin, reads the client's HandshakeResponse41 and checks its auth response
against the expected password the way mysqld does (SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw)))).
It answers OK, or ERR 1045 for a wrong user or password and ERR 1049 for any database (it has
none), like mysqld, and records the attempt. After a login it answers OK to every
command: a ping succeeds, `SET ...` succeeds, and a query gets an empty result, which is all a
client needs to report `mysql_up 1`.
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
from dataclasses import dataclass, field
from types import TracebackType

PLUGIN = b"mysql_native_password"
# capabilities: long password, found rows, long flag, connect with db, protocol 41, transactions,
# secure connection, multi statements/results, plugin auth (no SSL: the client must not try TLS)
CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x10000 | 0x20000 | 0x80000
_LENENC_AUTH = 0x200000
_CONNECT_WITH_DB = 0x8
_COM_QUIT = 0x01


@dataclass(frozen=True)
class Attempt:
    user: str
    ok: bool
    database: str = ""


def native_password(password: str, scramble: bytes) -> bytes:
    """The client's auth response for `password` (empty password: empty response)."""
    if not password:
        return b""
    stage1 = hashlib.sha1(password.encode()).digest()
    stage2 = hashlib.sha1(stage1).digest()
    mix = hashlib.sha1(scramble + stage2).digest()
    return bytes(a ^ b for a, b in zip(stage1, mix, strict=True))


@dataclass
class FakeMySQL:
    """`with FakeMySQL(user, password) as db:` listens on 127.0.0.1:`db.port` until the block ends."""

    user: str
    password: str
    attempts: list[Attempt] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port: int = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeMySQL:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._sock.close()

    def logins(self) -> list[Attempt]:
        with self._lock:
            return list(self.attempts)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            with conn:
                scramble = bytes(b % 94 + 33 for b in os.urandom(20))  # printable, no NUL, like mysqld's
                _send(conn, 0, _greeting(scramble))
                _, response = _read(conn)
                user, auth, database = _parse_response(response)
                ok = user == self.user and auth == native_password(self.password, scramble) and not database
                with self._lock:
                    self.attempts.append(Attempt(user, ok, database))
                if not ok:
                    if database:
                        code, state, text = 1049, b"42000", f"Unknown database '{database}'"
                    else:
                        code, state, text = 1045, b"28000", f"Access denied for user '{user}'@'localhost'"
                    _send(conn, 2, b"\xff" + struct.pack("<H", code) + b"#" + state + text.encode())
                    return
                _send(conn, 2, _OK)
                while True:
                    _, command = _read(conn)
                    if not command or command[0] == _COM_QUIT:
                        return
                    _send(conn, 1, _OK)
        except (OSError, ValueError):
            return


_OK = b"\x00\x00\x00" + struct.pack("<HH", 0x0002, 0)  # affected rows 0, insert id 0, autocommit, 0 warnings


def _greeting(scramble: bytes) -> bytes:
    return b"".join(
        [
            b"\x0a",
            b"8.0.36-promstack-fake\x00",
            struct.pack("<I", 1),
            scramble[:8],
            b"\x00",
            struct.pack("<H", CAPABILITIES & 0xFFFF),
            bytes([45]),  # utf8mb4_general_ci
            struct.pack("<H", 0x0002),
            struct.pack("<H", CAPABILITIES >> 16),
            bytes([len(scramble) + 1]),
            b"\x00" * 10,
            scramble[8:] + b"\x00",
            PLUGIN + b"\x00",
        ]
    )


def _parse_response(data: bytes) -> tuple[str, bytes, str]:
    """User name, auth response and database of a HandshakeResponse41."""
    flags = struct.unpack_from("<I", data, 0)[0]
    pos = 4 + 4 + 1 + 23
    end = data.index(b"\x00", pos)
    user = data[pos:end].decode()
    pos = end + 1
    if flags & _LENENC_AUTH:
        size, pos = _lenenc(data, pos)
    else:
        size, pos = data[pos], pos + 1
    auth, pos = data[pos : pos + size], pos + size
    database = ""
    if flags & _CONNECT_WITH_DB and pos < len(data):
        database = data[pos : data.index(b"\x00", pos)].decode()
    return user, auth, database


def _lenenc(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    width = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(data[pos + 1 : pos + 1 + width], "little"), pos + 1 + width


def _send(conn: socket.socket, seq: int, payload: bytes) -> None:
    conn.sendall(len(payload).to_bytes(3, "little") + bytes([seq]) + payload)


def _read(conn: socket.socket) -> tuple[int, bytes]:
    head = _exactly(conn, 4)
    size = int.from_bytes(head[:3], "little")
    return head[3], _exactly(conn, size)


def _exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ValueError("the client closed the connection")
        data += chunk
    return data
