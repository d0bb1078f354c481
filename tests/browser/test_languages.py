"""Language, numbers and time in Debian's Chromium: a dataset page in Danish and in English,
codes in words, dates in the language's style. Both pass axe."""
import re

import pytest

pytestmark = pytest.mark.browser

DUO_IN_WORDS = re.compile(r"[a-zæøå]+ \((GRU|HMB|DS|POA|NRES)\)", re.IGNORECASE)


def test_dataset_page_speaks_danish_then_english(demo_live_server, browser_page, axe_violations):
    page = browser_page
    page.goto(demo_live_server.url + "/catalog/1?lang=da")
    main = page.locator("main").inner_text()
    assert DUO_IN_WORDS.search(main) and "Region Hovedstaden" in main
    assert "1. jan. 2015" in main and "Kommune\n1084" not in main
    assert "tekst\tDirekte identifikator (CPR-nummer)" in main
    assert axe_violations(page) == []
    page.goto(demo_live_server.url + "/catalog/1?lang=en")
    main = page.locator("main").inner_text()
    assert DUO_IN_WORDS.search(main) and "Capital Region of Denmark" in main
    assert "Jan 1, 2015" in main and "Column dictionary" in main
    assert axe_violations(page) == []
