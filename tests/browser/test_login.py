"""Smoke tests of the login flow in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.users import make_user


def test_anonymous_home_page(page, tmp_path):
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Face recognition platform")
    expect(page.locator("header").get_by_role("link", name="Log in")).to_be_visible()
    expect(page.locator("header").get_by_role("link", name="Admin")).to_have_count(0)

    shot = tmp_path / "home.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_staff_login_shows_username_and_admin_link(logged_in_page, live_server):
    page = logged_in_page("staffer", role="admin")
    assert page.url == f"{live_server.url}/"
    header = page.locator("header")
    expect(header).to_contain_text("staffer")
    expect(header.get_by_role("link", name="Admin")).to_have_attribute("href", "/admin/")
    expect(header.get_by_role("button", name="Log out")).to_be_visible()
    expect(header.get_by_role("link", name="Log in")).to_have_count(0)


def test_non_staff_login_has_no_admin_link(logged_in_page):
    page = logged_in_page("viewer", role="operator")
    header = page.locator("header")
    expect(header).to_contain_text("viewer")
    expect(header.get_by_role("link", name="Admin")).to_have_count(0)


def test_wrong_password_stays_on_login(page, django_user_model):
    make_user("bob", "operator", password=PASSWORD)
    page.goto("/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "not-" + PASSWORD)
    page.click("form button[type=submit]")
    expect(page.locator("p.error")).to_contain_text("Please enter a correct username and password")
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.locator("header").get_by_role("link", name="Log in")).to_be_visible()
