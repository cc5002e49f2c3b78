"""Deliveries over https: to the checked address, with the URL's name sent as SNI and the receiver's
certificate verified against it (the system's CAs plus FACEREC_WEBHOOK_CA_BUNDLE). The receiver is a
real TLS server on 127.0.0.1 with certificates from a throwaway CA (trustme)."""

from __future__ import annotations

import ssl

import pytest
import trustme

from tests.webhooks.receiver import start_receiver
from webhooks import delivery, services
from webhooks.models import Delivery, DeliveryAttempt

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_bundle(ca, tmp_path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def https_receiver(ca: trustme.CA, *names: str):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return start_receiver(tls=context, host="localhost")


@pytest.fixture
def receivers():
    started = []
    yield started
    for r in started:
        r.server.shutdown()
        r.server.server_close()


def send_one(receiver) -> tuple[Delivery, DeliveryAttempt]:
    _, secret = services.create_subscription(url=receiver.url, event_types=["identify.unknown"])
    services.emit("identify.unknown", {"decision": "unknown"})
    sent = Delivery.objects.get()
    delivery.deliver(sent.pk)
    sent.refresh_from_db()
    receiver.secret = secret
    return sent, sent.attempt_log.get()


def test_a_receiver_whose_certificate_chains_to_the_configured_ca_gets_the_event(ca, ca_bundle, receivers,
                                                                                 settings):
    settings.FACEREC_WEBHOOK_CA_BUNDLE = ca_bundle
    receiver = https_receiver(ca, "localhost")
    receivers.append(receiver)

    sent, attempt = send_one(receiver)

    assert sent.status == "delivered" and attempt.status_code == 200, attempt.error
    assert receiver.url.startswith("https://localhost:")
    assert receiver.server_names == ["localhost"]  # connected to 127.0.0.1, the name sent as SNI
    [payload] = receiver.verified(receiver.secret)
    assert payload["type"] == "identify.unknown"


def test_a_certificate_no_trusted_ca_signed_is_refused(ca, receivers, settings):
    settings.FACEREC_WEBHOOK_CA_BUNDLE = ""  # the system's CAs only: the throwaway CA is not one
    receiver = https_receiver(ca, "localhost")
    receivers.append(receiver)

    sent, attempt = send_one(receiver)

    assert sent.status == "pending" and attempt.status_code is None
    assert "CERTIFICATE_VERIFY_FAILED" in attempt.error
    assert receiver.requests == []  # the body never left


def test_a_certificate_for_another_name_is_refused(ca, ca_bundle, receivers, settings):
    settings.FACEREC_WEBHOOK_CA_BUNDLE = ca_bundle
    receiver = https_receiver(ca, "hooks.example.org")
    receivers.append(receiver)

    sent, attempt = send_one(receiver)

    assert sent.status == "pending" and attempt.status_code is None
    assert "hostname 'localhost' doesn't match 'hooks.example.org'" in attempt.error
    assert receiver.requests == []
