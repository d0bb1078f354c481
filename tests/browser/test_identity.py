"""Sign-in through the real provider page in Debian's Chromium, for each demo role."""

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("sub", "landing", "heading"),
    [
        ("citizen-demo", "/consent", None),
        ("reviewer-herlev", "/", "Velkommen, Hanne Kjær"),
        ("admin-albertslund", "/", "Velkommen, Jonas Holm"),
        ("company-pulmo", "/", "Velkommen, Lise Winther"),
    ],
)
def test_demo_users_sign_in_and_land_on_their_home(demo_live_server, browser_page,
                                                   sign_in_browser, axe_violations, sub,
                                                   landing, heading) -> None:
    page = browser_page
    page.goto(demo_live_server.url + "/")
    assert page.locator("code", has_text="citizen-demo").count() == 1
    assert axe_violations(page) == []
    sign_in_browser(page, demo_live_server.url, sub)
    assert page.url == demo_live_server.url + landing
    if heading:
        assert page.get_by_role("heading", level=1).inner_text() == heading
        assert axe_violations(page) == []
    page.get_by_role("button", name="Log ud").click()
    page.wait_for_url(demo_live_server.url + "/")
    assert page.get_by_role("link", name="Log ind").count() >= 1
