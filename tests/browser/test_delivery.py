"""A company orders an extract in the browser, follows its progress and downloads it."""

import pytest

pytestmark = pytest.mark.browser


def test_company_orders_an_extract_and_downloads_it(demo_live_server, browser_page,
                                                    sign_in_browser, axe_violations) -> None:
    page = browser_page
    sign_in_browser(page, demo_live_server.url, "company-pulmo", "/extracts")
    page.goto(demo_live_server.url + "/extracts")
    assert page.get_by_role("heading", level=1).inner_text() == "Udtræk"
    assert axe_violations(page) == []
    order = page.get_by_role("button", name="Bestil udtræk").first
    order.click()
    page.wait_for_url(lambda url: "/extracts/" in url)
    assert page.locator("progress").count() == 1
    assert axe_violations(page) == []
    # delivery.js polls the job and reloads the page when it has finished.
    page.get_by_role("link", name="Hent som Parquet").wait_for(timeout=60_000)
    assert page.locator(".extract-status").inner_text() == "Klar"
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Hent som CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    page.goto(page.url + "?lang=en")
    assert page.get_by_role("link", name="Download as Parquet").count() == 1
