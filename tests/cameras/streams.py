"""Live camera streams for the tests and the bench: an HTTP MJPEG server on 127.0.0.1 in the test
process, each path a "programme" of real LFW faces (tests/video_clips.py) entering at known wall times.

The server counts connections per path (how many at once, how many in all), so a test sees from the
outside whether a camera was read twice, and can be stopped and started again on the same port.
"""

from __future__ import annotations

import io
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

from tests.video_clips import Appearance, background, face_tile, paste

BOUNDARY = "facerecframe"


@dataclass
class Programme:
    """What a path shows: `appearances` timed from `t0` (wall clock, time.time()), looping every
    `loop_s` if given; the plain background before, between and after."""

    appearances: list[Appearance] = field(default_factory=list)
    t0: float = 0.0
    size: tuple[int, int] = (640, 360)
    fps: float = 25.0
    loop_s: float | None = None

    _cache: dict = field(default_factory=dict, repr=False)

    def frame_at(self, now: float):
        """The frame at wall time `now` (the tiles and background made once)."""
        t = now - self.t0
        if self.loop_s:
            t %= self.loop_s
        if "background" not in self._cache:
            self._cache["background"] = background(*self.size, 0)
        frame = self._cache["background"].copy()
        for a in self.appearances:
            if a.start_s <= t < a.end_s:
                key = (a.photo, a.size)
                if key not in self._cache:
                    self._cache[key] = face_tile(a.photo, a.size)
                paste(frame, self._cache[key], *a.position(t))
        return frame

    def jpeg_at(self, now: float) -> bytes:
        """The frame as JPEG; a looping programme's frames are encoded once (the bench serves 720p at 25 fps
        to several cameras, and must leave the cores to the watcher it measures)."""
        index = round((now - self.t0) % self.loop_s * self.fps) if self.loop_s else None
        if index is not None and ("jpeg", index) in self._cache:
            return self._cache[("jpeg", index)]
        buf = io.BytesIO()
        Image.fromarray(self.frame_at(now if index is None else self.t0 + index / self.fps)).save(
            buf, format="JPEG", quality=85)
        if index is not None:
            self._cache[("jpeg", index)] = buf.getvalue()
        return buf.getvalue()


@dataclass
class PathStats:
    active: int = 0
    max_active: int = 0
    connections: int = 0
    frames_sent: int = 0
    sockets: set = field(default_factory=set, repr=False)


def _closed_by_client(sock: socket.socket) -> bool:
    """The client hung up (EOF waiting to be read): the server learns it only at its next write otherwise."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class StreamServer:
    """`url(path)`; `programmes[path] = Programme(...)`; `stop()` / `start()` (same port)."""

    def __init__(self, port: int = 0) -> None:
        self.programmes: dict[str, Programme] = {}
        self.pages: dict[str, bytes] = {}  # paths that answer an HTML page (not a stream)
        self.stats: dict[str, PathStats] = {}
        self.lock = threading.Lock()
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()
        self.start()

    def url(self, path: str, *, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                owner._serve(self)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._stopping.clear()
        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def stop(self) -> None:
        """Close the listening socket and every open stream (a camera going off the network)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def requests_for(self, path: str) -> PathStats:
        with self.lock:
            return self.stats.setdefault(path, PathStats())

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]
        stats = self.requests_for(path)
        with self.lock:
            stats.connections += 1
        if path in self.pages:
            body = self.pages[path]
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        programme = self.programmes.get(path)
        if programme is None:
            handler.send_error(404)
            return
        with self.lock:
            # Streams whose client has hung up are not counted as read any more.
            stats.sockets = {sock for sock in stats.sockets if not _closed_by_client(sock)}
            stats.sockets.add(handler.connection)
            stats.active = len(stats.sockets)
            stats.max_active = max(stats.max_active, stats.active)
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            handler.end_headers()
            period = 1.0 / programme.fps
            due = time.time()
            while not self._stopping.is_set():
                data = programme.jpeg_at(time.time())
                handler.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}"
                                    "\r\n\r\n".encode() + data + b"\r\n")
                handler.wfile.flush()
                with self.lock:
                    stats.frames_sent += 1
                due += period
                time.sleep(max(0.0, due - time.time()))
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            pass
        finally:
            with self.lock:
                stats.sockets.discard(handler.connection)
                stats.active = len(stats.sockets)
