"""A company finds a test environment and proposes a course; the host accepts it (Chromium)."""
import re

import pytest

pytestmark = pytest.mark.browser

DESCRIPTION = "VR simulation training of emergency teams in recognising sepsis early."


def test_profile_match_propose_accept(demo_live_server, browser_page, sign_in_browser,
                                      axe_violations):
    page, url = browser_page, demo_live_server.url
    sign_in_browser(page, url, "company-carebridge", next_path="/matches")
    assert page.get_by_role("heading", level=1).inner_text() == "Find det rette testmiljø"
    assert axe_violations(page) == []

    page.get_by_label("Løsningens navn").fill("SepsisSim")
    page.get_by_label("Beskrivelse af løsningen (dansk eller engelsk)").fill(DESCRIPTION)
    page.get_by_label("Klinisk personale").first.check()
    page.get_by_label("Teknologisk modenhed (TRL 1-9)").fill("5")
    page.get_by_role("button", name="Find testmiljøer").click()
    page.wait_for_load_state()
    first = page.locator(".tb-results > li").first
    assert "Avanceret simulation" in first.get_by_role("heading").inner_text()
    assert "Fælles temaer" in first.inner_text()
    assert axe_violations(page) == []

    first.get_by_role("link", name="Foreslå testforløb i Avanceret simulation").click()
    page.wait_for_load_state()
    page.get_by_label("Titel").fill("SepsisSim hos CAMES")
    page.get_by_label("Hvad skal testforløbet vise?").fill("At teams genkender sepsis hurtigere.")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Send forslag til værten").click()
    page.wait_for_load_state()
    assert page.get_by_text("Testforløbet er foreslået.").is_visible()
    assert page.locator("#course-status").inner_text() == "Foreslået"
    course_path = re.sub(r"^https?://[^/]+", "", page.url)
    assert not page.get_by_role("button", name="Acceptér forslaget").count()

    page.get_by_role("button", name="Log ud").click()
    page.wait_for_load_state()
    sign_in_browser(page, url, "host-cames", next_path=course_path)
    assert page.get_by_role("heading", level=1).inner_text() == "SepsisSim hos CAMES"
    assert axe_violations(page) == []
    page.get_by_label("Kommentar (valgfri)").fill("Velkommen i simulationscentret.")
    page.get_by_role("button", name="Acceptér forslaget").click()
    page.wait_for_load_state()
    assert page.locator("#course-status").inner_text() == "Aftalt"
    assert "Velkommen i simulationscentret." in page.content()


def test_kpi_and_environment_pages_are_accessible(demo_live_server, browser_page,
                                                   axe_violations):
    page, url = browser_page, demo_live_server.url
    page.goto(f"{url}/kpis")
    assert page.locator("svg.chart").count() >= 3
    assert axe_violations(page) == []
    page.goto(f"{url}/test-environments?lang=en")
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Test environments in Greater Copenhagen")
    assert page.locator(".tb-environments > li").count() == 5
    assert axe_violations(page) == []


def test_dossier_of_the_evaluated_demo_course(demo_live_server, browser_page, sign_in_browser,
                                              axe_violations):
    page, url = browser_page, demo_live_server.url
    sign_in_browser(page, url, "company-pulmo", next_path="/test-courses?status=evaluated")
    page.get_by_role("link", name="PulmoHome hos KOL-patienter på Rigshospitalet").click()
    page.wait_for_load_state()
    assert page.locator("#course-status").inner_text() == "Evalueret"
    assert axe_violations(page) == []
    page.get_by_role("link", name="Vis indkøbsdossier").click()
    page.wait_for_load_state()
    assert "en kommune kan købe direkte" in page.locator("#direct-purchase").inner_text()
    assert "Region Hovedstaden" in page.content()
    assert axe_violations(page) == []


def test_a_host_opens_its_environment_for_editing(demo_live_server, browser_page,
                                                  sign_in_browser, axe_violations):
    page, url = browser_page, demo_live_server.url
    sign_in_browser(page, url, "host-doll", next_path="/test-environments")
    page.get_by_role("link", name="Sundhedsbelysning").click()
    page.get_by_role("link", name="Redigér testmiljøet").click()
    page.wait_for_load_state()
    assert axe_violations(page) == []
    page.get_by_label("Testforløb pr. år").fill("9")
    page.get_by_role("button", name="Gem ændringer").click()
    page.wait_for_load_state()
    assert page.get_by_text("Testmiljøet er opdateret.").is_visible()
    assert page.locator("#capacity").inner_text() == "9"


@pytest.mark.parametrize("width", [1280, 390])
def test_dossier_page_and_its_pdf_agree_on_any_screen(demo_live_server, chromium,
                                                      sign_in_browser, axe_violations, width,
                                                      tmp_path):
    from tests.documents import assert_tagged_with_page_numbers

    context = chromium.new_context(locale="da-DK", viewport={"width": width, "height": 844},
                                   accept_downloads=True)
    page, url = context.new_page(), demo_live_server.url
    sign_in_browser(page, url, "company-pulmo", next_path="/test-courses?status=evaluated")
    page.get_by_role("link", name="PulmoHome hos KOL-patienter på Rigshospitalet").click()
    page.get_by_role("link", name="Vis indkøbsdossier").click()
    page.wait_for_load_state()
    assert axe_violations(page) == []
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    cost = page.locator("#yearly-cost").inner_text()
    outcomes = page.locator(".tb-outcomes li").all_inner_texts()
    digest = page.locator("#document-sha256").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Hent som PDF").click()
    path = tmp_path / "dossier.pdf"
    download.value.save_as(path)
    text = " ".join(assert_tagged_with_page_numbers(path.read_bytes(), lang="da"))
    assert cost in text and outcomes and all(" ".join(o.split()) in text for o in outcomes)
    assert digest in text.replace(" ", "")
    page.get_by_label("Kontrollér en kontrolsum fra et udskrevet dokument").fill("123")
    page.get_by_role("button", name="Kontrollér", exact=True).click()
    page.wait_for_load_state()
    assert "En kontrolsum er 64 tegn" in page.locator(".doc-verify").inner_text()
    assert axe_violations(page) == []
    context.close()
