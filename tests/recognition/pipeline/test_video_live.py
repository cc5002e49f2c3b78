"""Live streams (recognition/pipeline/video/live.py, Django-free): a file played at its own pace, MPEG-TS
over HTTP, and the failures a camera reports (reason codes, never the URL with its credentials)."""

from __future__ import annotations

import functools
import ssl
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import certifi
import pytest
import trustme

from recognition.pipeline.video.live import NOT_A_STREAM, STREAM_ENDED, UNREACHABLE, StreamFailed, StreamReader, \
    sampled_live_frames
from tests.video_clips import write_clip

MAX_PIXELS = 40_000_000


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("live")
    write_clip(path / "clip.mp4", duration_s=2.0, size=(320, 180), fps=25)
    write_clip(path / "clip.ts", duration_s=2.0, size=(320, 180), fps=25)
    (path / "page.html").write_text("<html><body>not a stream</body></html>")
    return path


@pytest.fixture(scope="module")
def http_root(folder):
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def read_all(url: str) -> tuple[list[float], StreamFailed]:
    times = []
    with pytest.raises(StreamFailed) as failure:
        for wall, frame in sampled_live_frames(url, sample_fps=5, timeout_s=5, max_pixels=MAX_PIXELS,
                                               stop=threading.Event()):
            assert frame.shape == (180, 320, 3)
            times.append(wall)
    return times, failure.value


def test_a_file_is_played_at_its_own_pace_and_sampled_by_the_clock(folder):
    started = time.time()
    times, failure = read_all(str(folder / "clip.mp4"))

    assert failure.reason == STREAM_ENDED
    assert 9 <= len(times) <= 11  # 2 s at 5 fps
    assert time.time() - started >= 1.8  # not decoded as fast as it can be
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.15


def test_mpeg_ts_over_http_is_read(http_root):
    times, failure = read_all(f"{http_root}/clip.ts")

    assert failure.reason == STREAM_ENDED and len(times) >= 1


def test_failures_have_a_reason_and_never_the_url():
    secret = "hunter2-password"
    with pytest.raises(StreamFailed) as refused:
        next(sampled_live_frames(f"http://viewer:{secret}@127.0.0.1:9/cam", sample_fps=5, timeout_s=3,
                                 max_pixels=MAX_PIXELS, stop=threading.Event()))

    assert refused.value.reason == UNREACHABLE
    assert secret not in refused.value.detail and "127.0.0.1" not in refused.value.detail


def test_a_web_page_is_not_a_stream(http_root):
    with pytest.raises(StreamFailed) as failure:
        next(sampled_live_frames(f"{http_root}/page.html", sample_fps=5, timeout_s=3, max_pixels=MAX_PIXELS,
                                 stop=threading.Event()))

    assert failure.value.reason == NOT_A_STREAM


def test_the_reader_retries_with_a_growing_backoff_and_stops_when_asked(http_root):
    reader = StreamReader(f"{http_root}/page.html", sample_fps=5, timeout_s=3, max_backoff_s=2,
                          max_pixels=MAX_PIXELS).start()
    time.sleep(3.5)  # tries at 0, 1, 3 s (backoff 1, 2, 2)
    reader.stop()
    reader.thread.join(timeout=5)

    assert not reader.thread.is_alive()
    assert reader.state.state == "error" and reader.state.error_code == NOT_A_STREAM
    assert 2 <= reader.state.reconnects <= 3


@pytest.fixture(scope="module")
def tls_ca(tmp_path_factory):
    return trustme.CA()


@pytest.fixture(scope="module")
def https_root(folder, tls_ca):
    """The same files over https, with a certificate for `localhost` from a throwaway CA."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("localhost").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def read_first(url: str, tls_ca_file: str | None):
    return next(sampled_live_frames(url, sample_fps=5, timeout_s=5, max_pixels=MAX_PIXELS, stop=threading.Event(),
                                    tls_ca_file=tls_ca_file))


def test_over_https_the_certificate_is_verified_against_the_given_cas(https_root, tls_ca, tmp_path):
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    secret = "hunter2-password"

    _, frame = read_first(f"https://localhost:{https_root}/clip.ts", str(ca_file))
    assert frame.shape == (180, 320, 3)
    for url, cas in ((f"https://viewer:{secret}@localhost:{https_root}/clip.ts", certifi.where()),  # unknown CA
                     (f"https://127.0.0.1:{https_root}/clip.ts", str(ca_file))):  # a name it was not issued for
        with pytest.raises(StreamFailed) as refused:
            read_first(url, cas)
        assert refused.value.reason == UNREACHABLE and "certificate" in refused.value.detail
        assert secret not in refused.value.detail
    _, frame = read_first(f"https://127.0.0.1:{https_root}/clip.ts", None)  # verification switched off
    assert frame.shape == (180, 320, 3)
