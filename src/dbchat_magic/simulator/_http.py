"""A minimal HTTP/1.1 server connection: read requests, write fixed and chunked responses."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from dbchat_magic.simulator._hostile import RawPiece, filler

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024  # Databricks' request size limit


class BadRequest(Exception):
    """The bytes on the wire are not a request this server can read."""


@dataclass
class Request:
    """A parsed request: method, path (query dropped), version, lower-cased headers, raw body."""

    method: str
    path: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        """True when the connection may serve another request after this one."""
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close"

    def json(self) -> Any:
        """The body decoded as JSON (raises ValueError when it is not)."""
        return json.loads(self.body) if self.body else None


class Connection:
    """One accepted TCP connection, reading through its own buffer (see `fill`)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int):
        self.reader = reader
        self.writer = writer
        self.number = number
        self._buf = bytearray()
        self._chunked = True  # False: an HTTP/1.0 stream, delimited by closing the connection

    async def next_request_started(self, idle_timeout: float | None) -> bool:
        """Wait for the first byte of the next request; False when ``idle_timeout`` passes first
        (bytes already buffered count as started)."""
        if self._buf or idle_timeout is None:
            return True
        try:
            await asyncio.wait_for(self.fill(), idle_timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def fill(self) -> bool:
        """Read whatever arrives next into the buffer; False when the client closed (EOF)."""
        data = await self.reader.read(65536)
        self._buf += data
        return bool(data)

    async def _until(self, sep: bytes, limit: int) -> bytes:
        start = 0
        while True:
            i = self._buf.find(sep, start)
            if i >= 0:
                out = bytes(self._buf[: i + len(sep)])
                del self._buf[: i + len(sep)]
                return out
            if len(self._buf) > limit:
                raise BadRequest("request head too large")
            start = max(0, len(self._buf) - len(sep) + 1)
            if not await self.fill():
                raise asyncio.IncompleteReadError(bytes(self._buf), None)

    async def _exactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not await self.fill():
                raise asyncio.IncompleteReadError(bytes(self._buf), n)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def read_request(self) -> Request | None:
        """Read the next request; None when the client closed the connection cleanly."""
        try:
            head = await self._until(b"\r\n\r\n", MAX_HEADER_BYTES)
        except asyncio.IncompleteReadError as exc:
            if not exc.partial.strip():
                return None
            raise BadRequest("connection closed in the middle of the request head") from exc
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError as exc:
            raise BadRequest(f"bad request line {lines[0]!r}") from exc
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise BadRequest(f"bad header line {line!r}")
            headers[name.strip().lower()] = value.strip()
        body = await self._read_body(headers)
        return Request(method.upper(), target.split("?", 1)[0], version, headers, body)

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            size = 0
            while True:
                line = await self._until(b"\r\n", 1024)
                n = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if n == 0:
                    await self._until(b"\r\n", 1024)
                    return b"".join(parts)
                size += n
                if size > MAX_BODY_BYTES + 1:
                    raise BadRequest("request body too large")
                parts.append(await self._exactly(n))
                await self._exactly(2)
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_BODY_BYTES:
            # Read and drop it so the connection stays usable, then let the caller refuse it.
            await self._exactly(length)
            return b"\0" * (MAX_BODY_BYTES + 1)
        return await self._exactly(length) if length else b""

    def write_head(
        self,
        status: int,
        headers: list[tuple[str, str]],
        *,
        keep_alive: bool,
    ) -> None:
        """Write the status line and headers."""
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Status"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def send_fixed(
        self,
        status: int,
        body: bytes,
        content_type: str,
        *,
        keep_alive: bool,
        extra: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
    ) -> None:
        """Send a complete response with a Content-Length body."""
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
        self.write_head(status, headers, keep_alive=keep_alive)
        self.writer.write(body)
        await self.writer.drain()

    async def send_sized(
        self,
        status: int,
        head: bytes,
        fill: int,
        tail: bytes,
        content_type: str | None,
        *,
        keep_alive: bool,
        extra: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
    ) -> None:
        """Send a Content-Length body of ``head``, ``fill`` filler bytes and ``tail``, piece by
        piece (never held whole); ``content_type=None`` sends no Content-Type header."""
        length = len(head) + fill + len(tail)
        headers = [("Content-Type", content_type)] if content_type else []
        headers += [("Content-Length", str(length)), *extra]
        self.write_head(status, headers, keep_alive=keep_alive)
        self.writer.write(head)
        for piece in filler(fill):
            self.writer.write(piece)
            await self.writer.drain()
        self.writer.write(tail)
        await self.writer.drain()

    async def send_json(
        self,
        status: int,
        payload: Any,
        *,
        keep_alive: bool,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Send a JSON response."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        await self.send_fixed(status, body, "application/json", keep_alive=keep_alive, extra=extra)

    def start_chunked(
        self,
        status: int,
        content_type: str,
        *,
        keep_alive: bool,
        http10: bool = False,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Start a ``Transfer-Encoding: chunked`` response (HTTP/1.0: ended by closing)."""
        headers = [("Content-Type", content_type), ("Cache-Control", "no-cache"), *extra]
        self._chunked = not http10
        if self._chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        self.write_head(status, headers, keep_alive=keep_alive and self._chunked)

    def write_chunks(self, pieces: list[bytes]) -> None:
        """Write each piece as its own HTTP chunk, all in one socket write (a `RawPiece` goes out
        as it is, outside the framing)."""
        if not self._chunked:
            self.writer.write(b"".join(pieces))
            return
        out: list[bytes] = []
        for piece in pieces:
            if type(piece) is RawPiece:
                out.append(piece)
            elif piece:
                out += [b"%x\r\n" % len(piece), piece, b"\r\n"]
        self.writer.write(b"".join(out))

    async def drain(self) -> None:
        """Wait until the socket accepts more data (raises ConnectionError when it is gone)."""
        await self.writer.drain()

    def end_chunked(self) -> bool:
        """End a streamed response; False when that means closing the connection (HTTP/1.0)."""
        if self._chunked:
            self.writer.write(b"0\r\n\r\n")
        return self._chunked

    def abort(self) -> None:
        """Drop the connection at once, without finishing the response."""
        self.writer.transport.abort()

    def close(self) -> None:
        """Close the connection after flushing what was written."""
        if not self.writer.is_closing():
            self.writer.close()
