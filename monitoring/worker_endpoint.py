"""A worker's own /metrics (FACEREC_WORKER_METRICS_PORT): its tasks by name and outcome, with their
durations, summed over its pool processes' files in its $PROMETHEUS_MULTIPROC_DIR. For workers the
site's /metrics cannot see: another machine, another container. The platform's gauges (people,
photos, queues...) stay the site's, so nothing is counted twice. Same access rule as /metrics."""

from __future__ import annotations

import logging
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST

from monitoring.access import refusal
from monitoring.metrics import exposition

log = logging.getLogger(__name__)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name): scrapes are not news
        pass


def metrics_app(token: str):
    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            return _text(start_response, "404 Not Found", "only /metrics is here")
        if environ.get("REQUEST_METHOD") != "GET":
            return _text(start_response, "405 Method Not Allowed", "GET only")
        refused = refusal(environ, token)
        if refused is not None:
            status = "401 Unauthorized" if refused.status == 401 else "403 Forbidden"
            extra = [("WWW-Authenticate", 'Bearer realm="metrics"')] if refused.ask_for_bearer else []
            return _text(start_response, status, refused.reason, extra)
        body = exposition(platform=False)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        return [body]

    return app


def _text(start_response, status: str, reason: str, extra_headers=()) -> list[bytes]:
    body = (reason + "\n").encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            *extra_headers])
    return [body]


def serve(host: str, port: int, token: str) -> WSGIServer:
    """Serve in a daemon thread of the calling process (the worker's main process)."""
    server = make_server(host, port, metrics_app(token), server_class=_ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    log.info("worker metrics on http://%s:%s/metrics", host, server.server_address[1])
    return server
