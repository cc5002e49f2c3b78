"""The home page: staff see the platform's state, from the selectors /metrics uses; others the welcome."""

from __future__ import annotations

import re

import pytest

from monitoring import selectors
from tests.monitoring.helpers import identify_a_stranger, photo_awaiting_review
from tests.users import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, f"no figure {name} on the page"
    return found.group(1)


def test_staff_see_the_figures_of_the_selectors_with_the_review_queue_linked(client, admin, operator):
    photo_awaiting_review()
    faces = identify_a_stranger(operator)
    client.login(username=admin.username, password=PASSWORD)

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    figures = selectors.platform_figures()
    assert figure(html, "people") == str(figures.people) == "1"
    assert figure(html, "active_templates") == str(figures.active_templates)
    assert figure(html, "awaiting_review") == "1"
    assert re.search(r'<a href="/identities/review/"><strong data-figure="awaiting_review">1<', html)
    assert figure(html, "identify_24h") == str(len(faces)) == str(figures.answers["24h"].identify_total)
    assert figure(html, "unknown_share_24h") == "100%"
    assert figure(html, "liveness_failures_30d") == "0"
    for threshold in figures.thresholds:
        assert threshold.source in html
    # The chart: one bar per window and kind, the identify row's unknown segment the whole bar.
    assert html.count("<g data-row=") == 4
    assert f"identify unknown: {len(faces)} (100%)" in html
    assert '<li data-check="database">database: <span class="ok">ok</span>' in html
    assert "<script" not in html


def test_people_who_are_not_staff_keep_the_welcome_page(client, operator):
    client.force_login(operator)
    html = client.get("/").content.decode()
    assert "Face recognition platform" in html and "data-figure" not in html


def test_anonymous_visitors_see_no_figures(client):
    html = client.get("/").content.decode()
    assert "data-figure" not in html and "Platform state" not in html


def test_a_signed_in_user_without_a_role_sees_no_figures(client):
    user = make_user("nobody")
    client.force_login(user)
    assert "data-figure" not in client.get("/").content.decode()
