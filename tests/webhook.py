"""A real local HTTP server that records the JSON POSTed to it: the alert tests' webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, url: str) -> None:
        self.url = url
        self.posts: list[dict[str, Any]] = []
        self._event = threading.Event()

    def wait(self, timeout: float = 10.0, predicate=lambda p: True) -> list[dict[str, Any]]:
        """The posts matching ``predicate``, waiting up to ``timeout`` s for at least one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [p for p in self.posts if predicate(p)]
            if found:
                return found
            self._event.wait(0.1)
        return []


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            holder["r"].posts.append(json.loads(body))
            holder["r"]._event.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks/govhub")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["r"]
    finally:
        server.shutdown()
        server.server_close()
