"""A citizen steers the use of their health data in Debian's Chromium, signed in for real."""
import json
import re

import pytest
from fhir.resources.R4B.bundle import Bundle

pytestmark = pytest.mark.browser

COMPANY = "#purpose-company_research"


def test_citizen_changes_a_choice_opts_out_and_back_and_downloads_the_receipt(
        live_server, browser_page, sign_in_browser, axe_violations, tmp_path):
    page = browser_page
    sign_in_browser(page, live_server.url, "citizen-demo", next_path="/consent")
    assert page.url == live_server.url + "/consent"
    assert page.get_by_role("heading", level=1).inner_text() == "Mit samtykke"
    assert "070385-XXXX" in page.content() and "0703851234" not in page.content()
    assert axe_violations(page) == []

    purpose = page.locator(COMPANY)
    purpose.get_by_label("Tillad").check()
    purpose.get_by_role("button", name=re.compile("^Gem valg for")).click()
    page.wait_for_load_state()
    assert page.get_by_role("status").filter(has_text="er gemt.").is_visible()
    assert "Tilladt for alle dataholdere" in page.locator(COMPANY).inner_text()

    page.get_by_role("button", name="Fravælg al sekundær brug").click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Fortryd fravalget").is_visible()
    assert "fravalgt al sekundær brug" in page.locator(COMPANY).inner_text()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Fortryd fravalget").click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Fravælg al sekundær brug").is_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Hent kvittering for dine samtykker (HL7 FHIR R4)").click()
    path = tmp_path / "receipt.json"
    download.value.save_as(path)
    text = path.read_text(encoding="utf-8")
    assert "070385" not in text
    bundle = json.loads(text)
    Bundle.model_validate(bundle)
    provisions = [(entry["resource"]["provision"]["type"],
                   [c["code"] for c in entry["resource"]["provision"].get("purpose", [])])
                  for entry in bundle["entry"]]
    assert ("permit", ["company_research", "HRESCH", "DUO:0000006"]) in provisions

    page.goto(live_server.url + "/consent/history")
    rows = page.locator("table.history tbody tr")
    assert rows.count() == 3  # permit, opt-out, opt-out taken back
    assert axe_violations(page) == []


def test_parent_acts_for_the_child_in_english(live_server, browser_page, sign_in_browser,
                                              axe_violations):
    page = browser_page
    sign_in_browser(page, live_server.url, "citizen-demo", next_path="/consent")
    page.goto(live_server.url + "/consent?lang=en")
    assert page.get_by_role("heading", level=1).inner_text() == "My consent"
    page.get_by_label("You are managing consent for").select_option(index=1)
    page.get_by_role("button", name="Switch").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Consent for")
    assert "XXXX" not in page.content()
    page.locator("#purpose-public_research").get_by_label("Deny").check()
    page.locator("#purpose-public_research").get_by_role(
        "button", name=re.compile("^Save choice for")).click()
    page.wait_for_load_state()
    assert "Denied for all data holders" in page.locator("#purpose-public_research").inner_text()
    assert axe_violations(page) == []
    page.goto(live_server.url + "/consent/history")
    assert page.locator("table.history tbody tr").first.inner_text().count("Parent") == 1
    page.goto(live_server.url + "/my-data-uses")
    assert page.get_by_role("heading", level=1).inner_text() == "Who used my child's data"
    assert axe_violations(page) == []
