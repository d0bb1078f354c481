"""A company asks for anonymous statistics on /statistics: a live feasibility count while the
cohort is edited, then a protected table with a chart, in Debian's Chromium at 390 px."""
import re

import pytest

pytestmark = pytest.mark.browser

HOME_CARE = re.compile("Hjemmepleje – visiterede ydelser, Albertslund Kommune")


def test_statistics_form_feasibility_and_table(demo_live_server, browser_page, sign_in_browser,
                                               axe_violations):
    page, base = browser_page, demo_live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_browser(page, base, "company-pulmo", next_path="/statistics")
    assert page.get_by_role("heading", level=1).inner_text() == "Anonym statistik"
    assert axe_violations(page) == []

    count = page.locator("#feasibility-count")
    assert "Vælg et datasæt" in count.inner_text()
    page.get_by_label("Formål", exact=True).select_option("company_research")
    home_care = page.locator("#dataset option", has_text=HOME_CARE).get_attribute("value")
    page.get_by_label("Datasættet", exact=True).select_option(home_care)
    page.wait_for_function("() => /personer efter samtykke/.test("
                           "document.getElementById('feasibility-count').textContent)")
    everyone = count.inner_text()
    assert re.search(r"(Omkring|Under) \d+ personer", everyone)
    page.get_by_label("Mindste alder").fill("125")
    page.wait_for_function(
        "(before) => document.getElementById('feasibility-count').textContent !== before",
        arg=everyone)
    assert count.inner_text().startswith("Under ")
    page.get_by_label("Mindste alder").fill("")

    page.get_by_label("Titel").fill("Hjemmepleje pr. køn")
    page.get_by_label("Hvad skal tallene bruges til?").fill("Basislinje til et indkøb.")
    page.get_by_label("Køn", exact=True).check()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Beregn statistikken").click()
    page.wait_for_load_state()
    assert "Afgørelse: Besvaret" in page.inner_text("#decision-heading")
    table = page.locator("table")
    assert "I alt" in table.inner_text()
    cells = page.locator("tbody tr:not(.margin) td").all_inner_texts()
    shown = any(text.strip() != "–" for text in cells)
    assert page.locator("svg.chart").count() == (1 if shown else 0)
    assert page.get_by_role("link", name="Hent CSV").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe_violations(page) == []
