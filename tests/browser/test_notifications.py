"""The inbox in the browser: the unread count in the navigation, reading, the link to the
object, and the choices, on a desktop (1280 px) and a phone (390 px), with axe on every page."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from marketplace.db import session_scope
from marketplace.identity import services as identity_services
from marketplace.notifications import services as notifications

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def inbox_server(live_server: Any) -> Iterator[Any]:
    with session_scope(live_server.app) as db:
        company = identity_services.create_org(db, slug="pulmo-inbox", name="Pulmo ApS",
                                               kind="company", country="DK", accredited=True)
        db.flush()
        identity_services.add_user(db, sub="inbox-analyst", email="analyst@pulmo.example",
                                   org=company, role="company_member", name="Ida Analytiker")
        operator = identity_services.create_org(db, slug="operator-inbox", name="Drift",
                                                kind="operator", country="DK", accredited=True)
        db.flush()
        identity_services.add_user(db, sub="inbox-operator", email="drift@example.org",
                                   org=operator, role="operator", name="Ole Operatør")
        db.flush()
        audience = notifications.members(company.id)
        notifications.notify(db, kind="application_decided", audience=audience,
                             params={"title": "KOL og hjemmemonitorering",
                                     "outcome": "permitted"}, link="/requests")
        notifications.notify(db, kind="job_finished", audience=audience,
                             params={"name": "Genindlæggelser med et meget langt navn, der "
                                             "skal ombrydes pænt på en smal skærm",
                                     "status": "succeeded"}, link="/workspace")
    yield live_server


def _page(chromium: Any, viewport: dict[str, int]) -> Any:
    context = chromium.new_context(locale="da-DK", viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _fits(page: Any) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def test_read_the_inbox_and_choose_what_to_get(inbox_server, chromium, sign_in_browser,
                                               axe_violations):
    base = inbox_server.url
    page = _page(chromium, DESKTOP)
    sign_in_browser(page, base, "inbox-analyst", "/")
    inbox_link = page.get_by_role("link", name="Beskeder 2 ulæste")
    assert inbox_link.count() == 1
    inbox_link.click()
    page.wait_for_url(f"{base}/notifications")
    assert page.get_by_role("heading", level=1).inner_text() == "Beskeder"
    assert page.get_by_text("Ulæste beskeder: 2").count() == 1
    assert axe_violations(page) == []
    assert _fits(page)
    page.get_by_role("button",
                     name="Markér som læst: Afgørelse om ansøgningen »KOL og "
                          "hjemmemonitorering«: godkendt").click()
    page.wait_for_url(f"{base}/notifications")
    assert "markeret som læst" in page.locator(".flash.success").inner_text()
    assert page.get_by_role("link", name="Beskeder 1 ulæste").count() == 1

    page.set_viewport_size(PHONE)
    page.reload()
    assert axe_violations(page) == []
    assert _fits(page)
    page.get_by_role("link", name="Kørslen »Genindlæggelser med et meget langt navn",
                     exact=False).click()
    page.wait_for_url(f"{base}/workspace")

    page.goto(f"{base}/notifications/settings")
    assert axe_violations(page) == []
    assert _fits(page)
    group = page.get_by_role("group", name="Kørsler og udtræk, der er færdige")
    group.get_by_label("Pr. e-mail").uncheck()
    page.get_by_label("Sprog i e-mails").select_option("en")
    page.get_by_role("button", name="Gem valg").click()
    page.wait_for_url(f"{base}/notifications/settings")
    assert page.locator(".flash.success").inner_text() == "Dine valg er gemt."
    group = page.get_by_role("group", name="Kørsler og udtræk, der er færdige")
    assert not group.get_by_label("Pr. e-mail").is_checked()
    assert group.get_by_label("I indbakken").is_checked()

    page.set_viewport_size(DESKTOP)
    page.goto(f"{base}/notifications?lang=en")
    assert page.get_by_role("heading", level=1).inner_text() == "Messages"
    assert page.get_by_text("Unread messages: 1").count() == 1
    page.get_by_role("button", name="Mark all as read").click()
    page.wait_for_url(f"{base}/notifications")
    assert page.get_by_text("Unread messages: 0").count() == 1
    assert page.locator(".unread-count").count() == 0
    assert axe_violations(page) == []
    page.context.close()


def test_the_operator_reads_the_outbox(inbox_server, chromium, sign_in_browser, axe_violations):
    base = inbox_server.url
    page = _page(chromium, PHONE)
    sign_in_browser(page, base, "inbox-operator", "/notifications")
    page.get_by_role("link", name="Udgående e-mail").click()
    page.wait_for_url(f"{base}/notifications/sent")
    assert page.get_by_role("heading", level=2,
                            name="Afgørelse om ansøgningen »KOL og hjemmemonitorering«: "
                                 "godkendt").count() == 1
    assert page.get_by_text("Til: analyst@pulmo.example", exact=False).count() == 2
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        assert axe_violations(page) == []
        assert _fits(page)
    page.context.close()
