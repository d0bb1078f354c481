"""A citizen reads the consent pages and the printable receipt on a desktop (1280 px) and a
phone (390 px) in Debian's Chromium: no sideways scrolling, no axe violations, the save message
in view, and the child's data named as such while a parent acts for a child."""
import re

import pytest

from tests.documents import assert_tagged_with_page_numbers

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PAGES = ("/consent", "/consent/history", "/my-data-uses", "/consent/receipt")


def page_width(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth")


def in_view(page, locator) -> bool:
    box = locator.bounding_box()
    height = page.evaluate("window.innerHeight")
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


@pytest.fixture
def phone_and_desktop(chromium):
    contexts = []

    def open_page(viewport):
        context = chromium.new_context(locale="da-DK", viewport=viewport, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_save_message_is_in_view_and_focused(live_server, phone_and_desktop, sign_in_browser,
                                             axe_violations, viewport):
    page = phone_and_desktop(viewport)
    sign_in_browser(page, live_server.url, "citizen-demo", next_path="/consent")
    article = page.locator("#purpose-education")
    article.get_by_label("Afvis", exact=True).check()
    article.get_by_role("button", name=re.compile("^Gem valg for")).click()
    page.wait_for_load_state()
    message = page.get_by_role("status").filter(has_text="er gemt.")
    assert message.count() == 1 and in_view(page, message)
    assert page.evaluate("document.activeElement.id") == "consent-saved"
    assert "Afvist for alle dataholdere" in article.inner_text()
    assert axe_violations(page) == []

    page.get_by_role("button", name="Fravælg al sekundær brug").click()
    page.wait_for_load_state()
    message = page.get_by_role("status").filter(has_text="fravalgt al sekundær brug")
    assert in_view(page, message)
    page.get_by_role("button", name="Fortryd fravalget").click()
    page.wait_for_load_state()
    assert in_view(page, page.get_by_role("status").filter(has_text="fravalg er fortrudt"))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_citizen_pages_fit_the_screen_and_pass_axe(demo_live_server, phone_and_desktop,
                                                   sign_in_browser, axe_violations, viewport):
    """Read only: the demo citizen's own history and data uses (long rows) stay on screen."""
    page = phone_and_desktop(viewport)
    sign_in_browser(page, demo_live_server.url, "citizen-demo", next_path="/consent")
    for lang in ("da", "en"):
        for path in PAGES:
            page.goto(f"{demo_live_server.url}{path}?lang={lang}")
            assert axe_violations(page) == [], (path, lang)
            assert page_width(page) <= viewport["width"], (path, lang, page_width(page))
    page.goto(demo_live_server.url + "/consent/history?lang=da")
    assert page.locator("table.history tbody tr").count() >= 1
    if viewport is PHONE:  # every cell names its column once the header row is hidden
        assert "Tidspunkt" in page.evaluate(
            "getComputedStyle(document.querySelector('table.history td'), '::before').content")
    page.goto(demo_live_server.url + "/my-data-uses?lang=da")
    assert page.locator("table.uses tbody tr").count() >= 1


def test_receipt_page_prints_to_a_tagged_pdf_with_the_same_words(live_server,
                                                                 phone_and_desktop,
                                                                 sign_in_browser, tmp_path):
    page = phone_and_desktop(DESKTOP)
    sign_in_browser(page, live_server.url, "citizen-demo", next_path="/consent")
    page.get_by_role("link", name="Læs og udskriv kvitteringen for dine samtykker").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Kvittering for samtykke"
    digest = page.locator("#document-sha256").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Hent kvitteringen som PDF").click()
    path = tmp_path / "kvittering.pdf"
    download.value.save_as(path)
    text = " ".join(assert_tagged_with_page_numbers(path.read_bytes(), lang="da"))
    assert digest in text.replace(" ", "")
    for purpose in page.locator(".receipt-purpose h3").all_inner_texts():
        assert purpose in text
    page.get_by_label("Kontrollér en kontrolsum fra et udskrevet dokument").fill(digest)
    page.get_by_role("button", name="Kontrollér", exact=True).click()
    page.wait_for_load_state()
    assert "Kontrolsummen passer:" in page.get_by_role("status").inner_text()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_parent_sees_the_childs_data_named_on_every_page(live_server, phone_and_desktop,
                                                         sign_in_browser, axe_violations,
                                                         viewport):
    page = phone_and_desktop(viewport)
    sign_in_browser(page, live_server.url, "citizen-demo", next_path="/consent")
    page.get_by_label("Du administrerer samtykke for").select_option(index=1)
    page.get_by_role("button", name="Skift").click()
    page.wait_for_load_state()
    for path in PAGES:
        page.goto(live_server.url + path)
        text = page.locator("main").inner_text()
        assert "dit barns" in text, path
        assert not re.search(r"\b[Dd]ine (sundheds)?data\b", text), path
        assert page_width(page) <= viewport["width"], path
        assert axe_violations(page) == [], path
    page.goto(live_server.url + "/consent")
    page.get_by_label("Du administrerer samtykke for").select_option(index=0)
    page.get_by_role("button", name="Skift").click()
    page.wait_for_load_state()
