"""The data holder's side of statistics in Debian's Chromium, with axe on every page, on a
desktop (1280 px) and a phone (390 px): a company's request waits for the holder, who refuses
without a comment (told why beside the field), then releases it; the holder sets the dataset's
statistics rules."""
import re

import pytest

pytestmark = pytest.mark.browser

REGISTER = re.compile("Landspatientregisteret")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_the_holder_reviews_a_statistics_request(demo_live_server, browser_page,
                                                 sign_in_browser, axe_violations):
    page, base = browser_page, demo_live_server.url
    page.set_viewport_size(DESKTOP)
    sign_in_browser(page, base, "company-pulmo", next_path="/statistics")
    page.get_by_label("Formål", exact=True).select_option("company_research")
    register = page.locator("#dataset option", has_text=REGISTER).get_attribute("value")
    page.get_by_label("Datasættet", exact=True).select_option(register)
    page.get_by_label("Titel").fill("Sygehuskontakter pr. køn i browseren")
    page.get_by_label("Hvad skal tallene bruges til?").fill("Basislinje til et indkøb.")
    page.get_by_label("Køn", exact=True).check()
    page.get_by_role("button", name="Beregn statistikken").click()
    page.wait_for_load_state()
    assert "Venter på dataholderen" in page.inner_text("main")
    assert page.locator("table").count() == 0

    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        sign_in_browser(page, base, "admin-sds", next_path="/statistics-reviews")
        assert page.get_by_role("heading", level=1).inner_text() == (
            "Statistikforespørgsler til vurdering")
        assert axe_violations(page) == [] and _fits(page)
        page.get_by_role("link", name="Sygehuskontakter pr. køn i browseren").click()
        assert "review.commercial_sensitive" in page.inner_text("main")
        assert axe_violations(page) == [] and _fits(page)
        if size is DESKTOP:
            page.get_by_label("Afvis forespørgslen").check()
            page.get_by_role("button", name="Registrér afgørelsen").click()
            error = page.locator("#comment-error")
            assert error.inner_text() == "skriv en begrundelse til virksomheden"
            assert page.get_by_label(re.compile("Kommentar til virksomheden")).get_attribute(
                "aria-invalid") == "true"
            assert axe_violations(page) == []
    page.get_by_label("Frigiv tabellen").check()
    page.get_by_role("button", name="Registrér afgørelsen").click()
    page.wait_for_url(f"{base}/statistics-reviews")
    assert "Tabellen er frigivet til virksomheden." in page.inner_text("main")
    assert "Sygehuskontakter pr. køn i browseren" not in page.inner_text("main")

    sign_in_browser(page, base, "company-pulmo", next_path="/statistics")
    page.get_by_role("link", name="Sygehuskontakter pr. køn i browseren").click()
    assert "Tabellen er frigivet af dataholderen." in page.inner_text("main")
    assert "I alt" in page.locator("table").inner_text()
    assert axe_violations(page) == [] and _fits(page)
    page.goto(f"{base}/register")
    assert "Sygehuskontakter pr. køn i browseren" in page.inner_text("main")
    assert axe_violations(page) == [] and _fits(page)


def test_the_holder_sets_the_statistics_rules(demo_live_server, browser_page, sign_in_browser,
                                              axe_violations):
    page, base = browser_page, demo_live_server.url
    page.set_viewport_size(PHONE)
    sign_in_browser(page, base, "admin-sds", next_path="/catalog/mine")
    page.get_by_role("link", name=REGISTER).click()
    page.get_by_role("link", name="Regler for statistik").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Regler for statistik")
    assert axe_violations(page) == [] and _fits(page)
    page.get_by_label("Samlet privatlivsbudget (epsilon)").fill("0.2")
    page.get_by_label("Højst pr. forespørgsel (epsilon)").fill("0.5")
    page.get_by_role("button", name="Gem reglerne").click()
    assert page.locator("#epsilon-per-request-error").inner_text() == (
        "kan ikke være større end hele budgettet")
    assert axe_violations(page) == [] and _fits(page)

    page.set_viewport_size(DESKTOP)
    page.get_by_label("Mindste antal personer pr. celle").fill("10")
    page.get_by_label("Samlet privatlivsbudget (epsilon)").fill("4")
    page.get_by_role("button", name="Gem reglerne").click()
    assert "Reglerne for statistik er gemt." in page.inner_text("main")
    assert page.get_by_label("Mindste antal personer pr. celle").input_value() == "10"
    assert axe_violations(page) == []
