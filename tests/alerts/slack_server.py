"""A Slack stand-in on 127.0.0.1 that records what it receives and answers from a script.

It serves both what slack-sdk's WebhookClient posts to (any path: `webhook_url(...)`) and what its
WebClient calls (`<api_url>chat.postMessage`). Each request takes the next `Reply` of `script`
(the default reply when the script is empty): an HTTP status and body, headers (Retry-After), a
hang of N seconds before answering. `refuse()` closes the listening socket (connections are then
refused) and `resume()` listens again on the same port. It runs on its own threads, so a test's
event loop (and a daemon on it) is never slowed by it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `body` None: Slack's own answer for the path (ok)."""

    status: int = 200
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang_s: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as it arrived: `at` is time.monotonic() on arrival."""

    path: str
    headers: dict[str, str]
    raw: str
    at: float

    @property
    def payload(self) -> dict[str, Any]:
        """The JSON (or form) body."""
        try:
            loaded = json.loads(self.raw)
        except ValueError:
            return {k: v[0] for k, v in parse_qs(self.raw).items()}
        return loaded if isinstance(loaded, dict) else {}

    @property
    def text(self) -> str:
        return str(self.payload.get("text", ""))


def web_api_error(error: str, status: int = 200) -> Reply:
    """What Slack's Web API answers when it refuses a call."""
    return Reply(status=status, body=json.dumps({"ok": False, "error": error}))


class RecordingSlack:
    """See the module docstring. Use as a context manager (or `start()` / `stop()`)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- life cycle ----------------------------------------------------------------------------------

    def start(self) -> RecordingSlack:
        self._serve(0)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.refuse()

    def refuse(self) -> None:
        """Stop listening: connections to the port are refused from now on."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def resume(self) -> None:
        """Listen again on the same port."""
        self._serve(self.port)

    async def refuse_async(self) -> None:
        """`refuse()` off the event loop (it waits for the server thread)."""
        await asyncio.to_thread(self.refuse)

    async def resume_async(self) -> None:
        """`resume()` off the event loop."""
        await asyncio.to_thread(self.resume)

    def __enter__(self) -> RecordingSlack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _serve(self, port: int) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="recording-slack", daemon=True
        )
        self._thread.start()

    # --- addresses -----------------------------------------------------------------------------------

    def webhook_url(self, secret: str = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX") -> str:
        return f"http://127.0.0.1:{self.port}/services/{secret}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # --- requests ------------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode("utf-8")
        with self._lock:
            self.received.append(Received(request.path, dict(request.headers.items()), raw, time.monotonic()))
            reply = self.script.popleft() if self.script else self.default
        if reply.hang_s and self._stopping.wait(reply.hang_s):
            return
        body = reply.body
        if body is None:
            body = json.dumps({"ok": True, "channel": "C1", "ts": "1.1"}) if "/api/" in request.path else "ok"
        data = body.encode("utf-8")
        try:
            request.send_response(reply.status)
            content_type = "application/json" if body.startswith("{") else "text/plain"
            request.send_header("Content-Type", f"{content_type}; charset=utf-8")
            request.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(data)
        except OSError:
            pass  # the client gave up (its timeout) before the answer

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    async def wait_for(self, count: int, within: float) -> list[Received]:
        """Wait until `count` requests arrived (fails after `within` seconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.count < count:
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {within}s waiting for {count} posts, got {self.count}")
            await asyncio.sleep(0.01)
        return self.snapshot()
