"""The operator runs the platform from /admin: only the console in the menu, an organisation,
a user and an API client created, the audit trail searched and verified, the job queues and
the consent notice (Chromium with axe, 1280 and 390 px)."""
import re

import pytest

from marketplace.db import session_scope
from marketplace.identity import services as identity

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)
# Names the elements that reach past the right edge, for a readable failure.
WIDEST = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
               || (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow === 'visible'
                   && e.clientWidth > 0))
  .slice(-4).map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').slice(0, 40))"""


@pytest.fixture(scope="module")
def console(live_server):
    with session_scope(live_server.app) as session:
        ops = identity.create_org(session, slug="ops-browser", name="Markedspladsens drift",
                                  kind="operator")
        identity.add_user(session, sub="console-operator", email="drift@x.example", org=ops,
                          role="operator", name="Drift Operatør")
    return live_server


def check_page(page, axe_violations):
    """No serious axe finding and no sideways scrolling, on a desktop and on a phone."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert axe_violations(page) == [], (page.url, width)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (
            page.url, width, page.evaluate(WIDEST))
    page.set_viewport_size({"width": 1280, "height": 900})


def test_the_operator_runs_the_platform_from_the_console(console, browser_page, sign_in_browser,
                                                         axe_violations):
    page, url = browser_page, console.url
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in_browser(page, url, "console-operator", next_path="/admin")
    assert page.get_by_role("heading", level=1).inner_text() == "Driftskonsol"
    menu = page.get_by_role("navigation", name="Hovedmenu")
    assert menu.get_by_role("link", name="Driftskonsol").is_visible()
    for other in ("Ansøgninger", "Udtræk", "Sagsbehandling", "Analysemiljø"):
        assert menu.get_by_role("link", name=other).count() == 0
    check_page(page, axe_violations)

    page.get_by_role("link", name="Organisationer").first.click()
    page.get_by_label("Navn").fill("Nordic Sensor ApS")
    page.get_by_label("Kortform").fill("nordic-sensor")
    page.get_by_label("Type").select_option("company")
    page.get_by_role("button", name="Opret organisationen").click()
    assert "Organisationen Nordic Sensor ApS er oprettet." in page.inner_text(".flashes")
    check_page(page, axe_violations)

    page.get_by_label("Kortform").fill("Ikke gyldig")
    page.get_by_label("Navn").fill("X")
    page.get_by_label("Type").select_option("company")
    page.get_by_role("button", name="Opret organisationen").click()
    assert "har ikke den rigtige form" in page.inner_text("#slug-error")
    check_page(page, axe_violations)

    page.get_by_role("navigation", name="Driftskonsollens afsnit").get_by_role(
        "link", name="Brugere").click()
    form = page.locator("form.admin-form")
    form.get_by_label("Navn").fill("Mette Nordic")
    form.get_by_label("E-mail").fill("mette@nordic.example")
    form.get_by_label("Login-id (OIDC-subject)").fill("mette-nordic")
    form.get_by_label("Organisation").select_option("nordic-sensor")
    form.get_by_label("Rolle").select_option("company_member")
    page.get_by_role("button", name="Tilføj brugeren").click()
    assert "Mette Nordic er tilføjet til Nordic Sensor ApS." in page.inner_text(".flashes")
    check_page(page, axe_violations)

    page.get_by_role("link", name="API-klienter").last.click()
    page.get_by_label("Organisation", exact=True).select_option("nordic-sensor")
    page.get_by_label(re.compile("access:request")).check()
    page.get_by_role("button", name="Opret klienten").click()
    first_secret = page.inner_text("#client-secret")
    assert len(first_secret) > 30
    check_page(page, axe_violations)
    page.get_by_role("button", name=re.compile("Skift hemmelighed")).first.click()
    assert page.inner_text("#client-secret") != first_secret

    page.get_by_role("link", name="Revisionsspor").last.click()
    page.get_by_label("Hændelse").fill("api_client")
    page.get_by_role("button", name="Søg", exact=True).click()
    assert "2 hændelser fundet." in page.inner_text("main")
    check_page(page, axe_violations)
    page.get_by_role("link", name="Kontrollér kæden").click()
    assert "Kæden er ubrudt." in page.inner_text("main")
    check_page(page, axe_violations)

    page.get_by_role("link", name="Jobkøer").last.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Jobkøer"
    check_page(page, axe_violations)

    page.get_by_role("link", name="Samtykketekst").last.click()
    page.get_by_label("Version", exact=True).fill("2027-03-01")
    page.get_by_label("Hvad er ændret?").fill("Formålet kvalitetsudvikling er tilføjet.")
    page.get_by_role("button", name="Offentliggør versionen").click()
    assert "Gældende version: 2027-03-01" in page.inner_text("main")
    check_page(page, axe_violations)

    page.goto(f"{url}/admin/users?lang=en")
    assert page.get_by_role("heading", level=1).inner_text() == "Users"
    check_page(page, axe_violations)
