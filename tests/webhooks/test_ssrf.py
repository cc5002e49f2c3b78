"""Where a webhook may not go: checked when the subscription is saved and again at each delivery."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from webhooks import delivery, network, services
from webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db

REFUSED = ["http://10.0.0.1/hook", "http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data/",
           "http://[::1]/hook", "http://localhost/hook", "http://192.168.1.10/", "http://[::ffff:10.0.0.1]/",
           "ftp://example.com/", "file:///etc/passwd"]


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_link_local_and_non_http_targets_are_refused(url, settings):
    settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(network.TargetRefused):
        network.check_target(url)
    with pytest.raises(DomainError) as err:
        services.create_subscription(url=url, event_types=["identify.unknown"])
    assert err.value.field == "url"


def test_the_allow_list_lets_loopback_through(settings, receiver):
    settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    assert network.check_target(receiver.url)[3] == "127.0.0.1"
    with pytest.raises(network.TargetRefused):
        network.check_target("http://10.0.0.1/")


def test_the_target_is_checked_again_at_delivery(settings, receiver):
    settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    services.create_subscription(url=receiver.url, event_types=["identify.unknown"])
    services.emit("identify.unknown", {"decision": "unknown"})
    settings.FACEREC_WEBHOOK_ALLOWED_NETWORKS = []  # as if the name now resolved to loopback
    delivery.deliver(Delivery.objects.get().pk)
    attempt = Delivery.objects.get().attempt_log.get()
    assert attempt.error.startswith("refused:") and attempt.status_code is None
    assert receiver.requests == []
    assert Subscription.objects.get().consecutive_failures == 1
