"""The request context audit entries read: the client address as the throttles see it, the signed-in user."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from core import request_context


def seen_by_a_view(settings, num_proxies: int, **meta) -> request_context.RequestMeta:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    seen = {}

    def view(request):
        seen["meta"] = request_context.current.get()
        return HttpResponse()

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", **meta)
    request_context.RequestContextMiddleware(view)(request)
    return seen["meta"]


def test_a_forwarded_address_is_ignored_without_trusted_proxies(settings):
    assert seen_by_a_view(settings, 0, HTTP_X_FORWARDED_FOR="198.51.100.7").client_ip == "10.0.0.1"


def test_behind_one_trusted_proxy_the_forwarded_address_is_the_client(settings):
    assert seen_by_a_view(settings, 1, HTTP_X_FORWARDED_FOR="198.51.100.7").client_ip == "198.51.100.7"


@pytest.mark.parametrize("forwarded", ["not-an-ip", "198.51.100.7, <script>"])
def test_a_forwarded_value_that_is_no_address_falls_back_to_the_peer(settings, forwarded):
    assert seen_by_a_view(settings, 1, HTTP_X_FORWARDED_FOR=forwarded).client_ip == "10.0.0.1"


def test_the_user_is_read_when_asked_and_anonymous_is_none(settings, django_user_model, db):
    meta = seen_by_a_view(settings, 0)
    assert meta.user is None  # RequestFactory requests have no user at all
    alice = django_user_model.objects.create_user("alice")
    assert request_context.RequestMeta(user_getter=lambda: alice).user == alice
