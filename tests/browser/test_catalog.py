"""The catalog in Debian's Chromium: search with facets, the quality page, and a data holder
creating, uploading (with progress) and publishing a dataset. Every page passes axe."""

import pytest

pytestmark = pytest.mark.browser


def test_public_search_dataset_and_quality_pages(demo_live_server, browser_page, axe_violations):
    page = browser_page
    page.goto(demo_live_server.url + "/catalog")
    assert page.get_by_role("heading", level=1).inner_text() == "Datakatalog"
    assert axe_violations(page) == []
    total = page.locator("#results-heading").inner_text()
    page.get_by_label("Kommunal").check()
    page.get_by_role("button", name="Anvend filtre").click()
    page.wait_for_url("**publisher_level=municipal**")
    assert page.locator("#results-heading").inner_text() != total
    page.get_by_role("link", name="Hjemmepleje – visiterede ydelser, Albertslund Kommune").click()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Se kvalitetsrapporten").click()
    assert page.locator("svg.chart").count() == 1
    assert axe_violations(page) == []
    page.goto(demo_live_server.url + "/catalog?lang=en&q=COPD")
    assert page.get_by_role("heading", level=1).inner_text() == "Data catalogue"


def test_holder_creates_uploads_with_progress_and_publishes(demo_live_server, browser_page,
                                                            sign_in_browser, axe_violations):
    page = browser_page
    sign_in_browser(page, demo_live_server.url, "admin-albertslund", "/catalog/new")
    assert axe_violations(page) == []
    page.get_by_label("Titel (dansk)").fill("Skridttællere i hjemmeplejen")
    page.get_by_label("Beskrivelse (dansk)").fill("Daglige skridt målt med <b>sensor</b>.")
    page.get_by_label("Pleje- og omsorgsdata").check()
    page.get_by_label("Navn række 1").fill("steps")
    page.get_by_label("Type række 1").select_option("integer")
    page.get_by_label("Min række 1").fill("0")
    page.get_by_role("button", name="Gem").click()
    page.wait_for_url("**/upload")
    assert axe_violations(page) == []
    page.set_input_files("#file", files=[{"name": "steps.csv", "mimeType": "text/csv",
                                          "buffer": b"steps\n1200\n8000\n15\n"}])
    page.get_by_role("button", name="Upload og valider").click()
    page.wait_for_url("**/quality?version=1")
    assert page.get_by_text("Versionen bestod alle forventninger.").count() == 1
    page.get_by_role("link", name="Tilbage til datasættet").click()
    assert "<b>sensor</b>" in page.locator("main").inner_text()
    page.get_by_role("button", name="Udgiv i kataloget").click()
    assert page.get_by_text("Datasættet er udgivet i kataloget.").count() == 1
    assert axe_violations(page) == []
