"""The Content-Security-Policy blocks nothing the pages, the admin and the API docs need."""

from __future__ import annotations

from playwright.sync_api import expect

# Init scripts run outside the page's CSP, so this listener sees every violation.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def test_pages_and_admin_load_without_csp_violations(logged_in_page, django_user_model):
    page = logged_in_page("staffer", role="admin")
    django_user_model.objects.filter(username="staffer").update(is_superuser=True)  # the admin's add form
    page.add_init_script(RECORD_VIOLATIONS)
    for url in ("/", "/identities/", "/recognize/identify/", "/admin/", "/admin/auth/user/add/",
                "/admin/django_celery_beat/periodictask/add/"):
        response = page.goto(url)
        assert response.ok, url
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert violations(page) == [], url
    # django-celery-beat's inline script, moved to a static file (templates/admin/djcelery/), ran.
    expect(page.locator(".field-crontab_translation")).to_have_count(1)
    expect(page.locator(".field-crontab_translation")).to_be_hidden()


def test_swagger_ui_renders_under_the_csp(page):
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("facerec API")
    expect(page.locator(".opblock").first).to_be_visible()  # the schema was fetched and drawn
    assert violations(page) == []
