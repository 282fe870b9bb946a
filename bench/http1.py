"""A minimal HTTP/1.1 keep-alive client for the load levels: one connection per simulated client.

Why not httpx: on this 2-core machine the client shares the CPU with the server, and an
httpx request costs about 1 ms of client CPU (more with a 64-connection pool), enough
to cap or distort the throughput being measured. This client only writes a POST with a
JSON body and reads a response framed by Content-Length (or chunked), a few tens of
microseconds each. It talks to loopback addresses only and is used only by the bench.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bench.load import is_loopback_url
from rag.errors import RagError

MAX_HEADER_BYTES = 64 * 1024


class HttpError(RagError):
    """A transport or framing failure (the connection is closed and reopened on the next call)."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def encode_request(host: str, path: str, payload: Any) -> bytes:
    body = json.dumps(payload, ensure_ascii=False).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    """Status code and lower-cased headers of a response head (ending in a blank line)."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"bad status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise HttpError(f"bad header line {line!r}")
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


class Connection:
    """One keep-alive connection to ``base_url``; requests on it are sequential."""

    def __init__(self, base_url: str, timeout: float) -> None:
        if not is_loopback_url(base_url):
            raise ValueError(f"{base_url} is not a loopback URL: the benchmark only talks to this machine")
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"{base_url}: expected http://<loopback host>:<port>")
        self._host, self._port = parts.hostname, parts.port
        self._host_header = f"{self._host}:{self._port}"
        self._timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, payload: Any) -> Response:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._exchange(encode_request(self._host_header, path, payload))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, HttpError) as exc:
            await self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(self, request: bytes) -> Response:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port,
                                                                       limit=MAX_HEADER_BYTES)
        assert self._reader is not None
        self._writer.write(request)
        await self._writer.drain()
        status, headers = parse_head(await self._reader.readuntil(b"\r\n\r\n"))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked()
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers expected
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):  # the peer may have gone already
                await writer.wait_closed()
