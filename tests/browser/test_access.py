"""A company applies, the data holder reviews, a permit is issued: in Debian's Chromium."""
import re

import pytest

pytestmark = pytest.mark.browser

REGISTER = "Landspatientregisteret"


def test_apply_review_permit(demo_live_server, browser_page, sign_in_browser, axe_violations):
    page, base = browser_page, demo_live_server.url
    sign_in_browser(page, base, "company-pulmo", next_path="/requests")
    assert page.get_by_role("heading", level=1).inner_text() == "Dataansøgninger"
    assert axe_violations(page) == []

    page.get_by_role("link", name="Ny ansøgning").click()
    page.get_by_label("Projektets titel").fill("Algoritme for forebyggelige indlæggelser")
    page.get_by_label("Beskrivelse af projektet").fill(
        "Vi træner en model, der finder borgere med risiko for indlæggelse.")
    page.get_by_label("Formål").select_option("company_research")
    dataset = page.locator("fieldset.dataset", has_text=REGISTER)
    dataset.get_by_label("Ansøg om dette datasæt").check()
    for column in ("birth_date", "sex", "diagnosis"):
        dataset.locator(f"input[value='{column}']").check()
    page.get_by_label("Mindste alder").fill("18")
    # The cohort's size after consent shows live, rounded, before anything is sent.
    count = page.locator("#feasibility-count")
    count.filter(has_text=re.compile(r"(Omkring|Under) [\d.]+ personer")).wait_for()
    page.get_by_label("Varighed i dage").fill("365")
    page.get_by_label("Sikkerhedsforanstaltninger").fill("Analyse i sikkert miljø.")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Send ansøgningen").click()
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    request_url = page.url
    assert "Sendt til vurdering" in page.inner_text("#decision-heading")
    assert "Et kommercielt formål på et ikke-offentligt datasæt" in page.content()
    assert axe_violations(page) == []

    page.get_by_role("button", name="Log ud").click()
    sign_in_browser(page, base, "admin-sds", next_path="/reviews")
    queue = page.get_by_role("row", name=re.compile("Algoritme for forebyggelige"))
    assert "arbejdsdage tilbage" in queue.inner_text()
    assert axe_violations(page) == []
    queue.get_by_role("link").click()
    page.get_by_label("Godkend").check()
    page.get_by_label(re.compile("^Kommentar til ansøgeren")).fill("Godkendt med PUB-pligt.")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Registrér vurdering").click()
    page.wait_for_load_state()
    assert page.get_by_text("Din vurdering er registreret.").is_visible()
    assert "Tilladelse givet" in page.content()
    assert page.get_by_role("heading", name=re.compile(r"^Tilladelse #\d+")).is_visible()

    page.get_by_role("button", name="Log ud").click()
    sign_in_browser(page, base, "company-pulmo", next_path=request_url.removeprefix(base))
    assert "Tilladelse givet" in page.content()
    page.goto(base + "/register?lang=en")
    assert page.get_by_role("heading", level=1).inner_text() == "Register of approved data uses"
    assert "Pulmo" in page.content()
    assert axe_violations(page) == []
