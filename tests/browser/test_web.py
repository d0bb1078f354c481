"""/api/docs draws the API reference in Chromium without breaking the Content-Security-Policy."""

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 390])
def test_api_docs_render_under_the_strict_csp(live_server, chromium, axe_violations,
                                              width) -> None:
    context = chromium.new_context(locale="da-DK", viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    missing: list[str] = []
    page.on("response", lambda response: missing.append(response.url)
            if response.status >= 400 else None)
    try:
        page.goto(live_server.url + "/api/docs")
        page.locator(".opblock-summary-path", has_text="/readyz").first.wait_for()
        assert page.get_by_role("heading", level=1).inner_text() == "API-dokumentation"
        assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
        # The browser asks for /favicon.ico by itself; every file the page names must load.
        assert [url for url in missing if not url.endswith("/favicon.ico")] == []
        assert [p for p in problems if "404" not in p] == []
        # Nothing pushes the page wider than the screen (the reference scrolls inside itself).
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert axe_violations(page) == []
    finally:
        context.close()
