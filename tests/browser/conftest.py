"""Browser tests: Playwright (sync API) driving Debian's Chromium against `live_server`.

The browser is the system one at /usr/bin/chromium (`make chromium` installs it with
apt-get); Playwright's own browser download (`playwright install`) is never used.

Every test here gets pytest-django's `live_server` (the app served from a thread on
the test database), so its tests run with `transactional_db`: data created in the
test is committed and visible to the server thread, and flushed afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.users import make_user

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 15_000
PASSWORD = "browser-test-Pa55word!"


@pytest.fixture(scope="session")
def playwright() -> Iterator["Playwright"]:  # noqa: F821
    """The Playwright driver, started once for the session."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)", pytrace=False)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop "running" in this thread for as long
    # as it is started (it switches greenlets, the loop never stops), so Django sees an
    # async context and raises SynchronousOnlyOperation for every ORM call in the test
    # thread, fixtures and database setup/flush included. DJANGO_ALLOW_ASYNC_UNSAFE is
    # the documented workaround (Django "Async safety"; pytest-playwright + pytest-django).
    # The ORM stays single-threaded here, so nothing unsafe happens. It is set for exactly
    # the driver's lifetime and restored after, so tests that run before the first
    # browser test keep the check; the live server thread never has a loop either way.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    manager = sync_playwright().start()
    try:
        yield manager
    finally:
        manager.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser(playwright) -> Iterator["Browser"]:  # noqa: F821
    """Headless Debian Chromium, launched once for the session."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser, live_server) -> Iterator["Page"]:  # noqa: F821
    """A page in a fresh browser context (own cookies/storage) whose base URL is the live
    server, so `page.goto("/login/")` works; the context is closed after the test."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def logged_in_page(page, django_user_model) -> Callable[..., "Page"]:  # noqa: F821
    """Factory: `logged_in_page(username="alice", role="operator")` creates that user in the role
    (accounts.roles) and logs in through the real /login/ form; returns the page, on the home page."""

    def login(username: str = "alice", *, role: str | None = "operator", password: str = PASSWORD):
        make_user(username, role, password=password)
        page.goto("/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("form button[type=submit]")
        if "/login/" in page.url:
            raise AssertionError(f"login as {username!r} failed, still on {page.url}:\n{page.inner_text('main')}")
        return page

    return login
