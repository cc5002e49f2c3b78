"""bench/kiosk_bench.py in the suite, with small numbers (KIOSK_BENCH_* when run as the bench): the
figures are printed; what is asserted is only that every frame was answered, and answered right."""

from __future__ import annotations

import os
import socket

import pytest

from bench import kiosk_bench
from recognition.services.kiosk import ACCEPT
from tests.camera_frames import camera_frame
from tests.approved_people import approved_person
from tests.recognition.conftest import PEOPLE, display_name
from tests.users import make_user

pytestmark = [pytest.mark.django_db(transaction=True)]

PASSWORD = "kiosk-bench-Pa55word!"
PERSON = "George_W_Bush"  # always enrolled; the frames show him (photo 4: not an enrollment photo)


def frames(n: int):
    for i in range(kiosk_bench.WARM_UP_FRAMES + n):
        yield camera_frame(PERSON, 4, shift=(i % 5) * 4)


def served_like_gunicorn(live_server) -> None:
    """The site runs under gunicorn, which sets TCP_NODELAY on its socket (accepted connections inherit it);
    Django's live server does not, and its response headers and body, written apart, then wait out the
    client's delayed ACK (about 40 ms a frame that no deployment pays)."""
    live_server.thread.httpd.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def test_kiosk_round_trip_per_frame(live_server):
    served_like_gunicorn(live_server)
    n_frames = int(os.environ.get("KIOSK_BENCH_FRAMES", "8"))
    n_people = int(os.environ.get("KIOSK_BENCH_PEOPLE", "1"))
    enroller = make_user("kiosk-bench-enroller", "operator")
    people = {person: approved_person(person, owner=enroller) for person in PEOPLE[:max(1, n_people)]}
    make_user("kiosk-bench", "operator", password=PASSWORD)
    http, token = kiosk_bench.signed_in(live_server.url, "kiosk-bench", PASSWORD)

    def named(answer: dict) -> None:
        assert [face["label"] for face in answer["faces"]] == [display_name(PERSON)], answer

    def accepted(answer: dict) -> None:
        assert answer["decision"] == ACCEPT, answer

    for mode, check, identity in (("identify", named, None), ("verify", accepted, people[PERSON].pk)):
        server_ms: list[float] = []
        cpu_ms: list[float] = []
        samples = kiosk_bench.round_trips(http, token, live_server.url, frames(n_frames), mode=mode,
                                          identity_id=identity, run=f"bench-{mode}", check=check, server_ms=server_ms,
                                          cpu_ms=cpu_ms)
        warm = kiosk_bench.WARM_UP_FRAMES
        figures = kiosk_bench.summary(samples[warm:], server_ms[warm:], cpu_ms[warm:])
        print(f"\nkiosk round trip, {mode}, {len(people)} people enrolled: {figures}")
        assert figures["frames"] == n_frames
