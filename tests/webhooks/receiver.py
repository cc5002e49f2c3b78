"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 in the test process that
records every request and answers the statuses a test scripts (200 once the script is used up)."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # statuses to answer, in order
    delay_s: float = 0.0
    host: str = "127.0.0.1"  # the name in the URL
    scheme: str = "http"
    server_names: list[str | None] = field(default_factory=list)  # SNI of each TLS connection (https)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout_s: float = 60) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.requests) >= count, f"{len(self.requests)} of {count} webhooks received"
        return self.requests

    def verified(self, secret: str) -> list[dict]:
        """Each request's payload, checked with the library as a receiver would: raises on a bad signature."""
        return [Webhook(secret).verify(r.body, r.headers) for r in self.requests]


def start_receiver(*, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> Receiver:
    """Serving on 127.0.0.1; with `tls` (a server context holding its certificate) over https, the URL
    naming `host` (which must resolve to 127.0.0.1)."""
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            receiver = holder["r"]
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            receiver.requests.append(Received(self.path, dict(self.headers), body))
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            status = receiver.script.pop(0) if receiver.script else 200
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(server, host=host, scheme="https" if tls else "http")
    if tls is not None:
        tls.sni_callback = lambda sock, name, context: holder["r"].server_names.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return holder["r"]
