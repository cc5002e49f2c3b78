"""The staff home page in a real browser: the figures, the server-drawn SVG chart under the strict
CSP (no violation reported), and the link from the photos awaiting review to the review queue."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.monitoring.helpers import identify_a_stranger, photo_awaiting_review
from tests.users import make_user


def test_staff_home_page_shows_the_state_and_links_to_the_review_queue(logged_in_page):
    photo_awaiting_review()
    faces = identify_a_stranger(make_user("door", "operator"))
    violations: list[str] = []

    page = logged_in_page("staffer", role="admin")
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.reload()

    expect(page.locator("h1")).to_have_text("Platform state")
    expect(page.locator('[data-figure="people"]')).to_have_text("1")
    expect(page.locator('[data-figure="identify_24h"]')).to_have_text(str(len(faces)))
    chart = page.locator("svg#outcome-chart")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100  # drawn, not an empty box
    expect(chart.locator("g[data-row]")).to_have_count(4)
    expect(chart.locator('g[data-row="identify, 24h"] rect[fill="#8a93a6"]')).to_have_count(1)
    expect(page.locator('#health [data-check="database"]')).to_contain_text("ok")

    page.get_by_role("link", name="1 awaiting review").click()
    page.wait_for_url("**/identities/review/")
    assert violations == []
