"""A fault-injecting HTTP proxy on 127.0.0.1 for sync tests.

It forwards each request to the upstream server on a fresh connection and can drop
a request before forwarding it, or forward it and drop the response (the server
committed, the client never hears back).
"""

import asyncio
import threading
from collections.abc import Callable


class FaultProxy:
    """Run with `start()`; `url` is the proxy's address; `stop()` ends it."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.requests_seen = 0
        self.dropped_requests = 0
        self.dropped_responses = 0
        # Decide per request (number, request line): drop before forwarding / after the server answered.
        self.drop_request: Callable[[int, str], bool] = lambda number, line: False
        self.drop_response: Callable[[int, str], bool] = lambda number, line: False
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FaultProxy":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_message(reader)
                if request is None:
                    break
                self.requests_seen += 1
                number = self.requests_seen
                request_line = request.split(b"\r\n", 1)[0].decode("latin-1")
                if self.drop_request(number, request_line):
                    self.dropped_requests += 1
                    break
                response = await self._forward(request)
                if self.drop_response(number, request_line):
                    self.dropped_responses += 1
                    break
                writer.write(response)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _forward(self, request: bytes) -> bytes:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        upstream_writer.write(request)
        await upstream_writer.drain()
        response = await _read_message(upstream_reader)
        upstream_writer.close()
        return response or b""


async def _read_message(reader: asyncio.StreamReader) -> bytes | None:
    """Read one HTTP/1.1 message with a Content-Length body (what httpx and uvicorn send here)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            return head + await _read_chunked(reader)
    body = await reader.readexactly(length) if length else b""
    return head + body


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    data = b""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        data += size_line
        size = int(size_line.strip().split(b";")[0], 16)
        chunk = await reader.readexactly(size + 2)
        data += chunk
        if size == 0:
            return data
