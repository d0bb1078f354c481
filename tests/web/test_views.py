"""/api/docs: the API reference from our own origin, under the strict Content-Security-Policy."""

from __future__ import annotations

import re

import pytest


def test_api_docs_page_loads_only_our_own_scripts(client) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts, "the page has its scripts"
    for attributes, body in scripts:
        assert body.strip() == "", "no inline script"
        source = re.search(r'src="([^"]+)"', attributes)
        assert source and source.group(1).startswith("/"), attributes
    assert "style=" not in html
    assert 'data-spec-url="/api/openapi.json"' in html
    assert "<h1>API-dokumentation</h1>" in html


def test_api_docs_page_in_english(client) -> None:
    html = client.get("/api/docs?lang=en").get_data(as_text=True)
    assert "<h1>API documentation</h1>" in html


@pytest.mark.parametrize(("path", "mimetype"), [
    ("js/swagger-ui-bundle.js", "text/javascript"),
    ("css/swagger-ui.css", "text/css"),
])
def test_swagger_ui_assets_are_served_from_the_app(client, path, mimetype) -> None:
    response = client.get(f"/api/docs/assets/{path}")
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert "max-age=86400" in response.headers["Cache-Control"]
    assert len(response.data) > 10_000


@pytest.mark.parametrize("path", ["../__init__.py", "..%2f__init__.py", "js/../../plugins.py",
                                  "/etc/passwd", "js/nothing.js", "%00"])
def test_assets_outside_the_swagger_folder_are_not_served(client, path) -> None:
    response = client.get(f"/api/docs/assets/{path}")
    # A doubled slash is only normalised by a redirect that stays inside the asset folder.
    assert response.status_code in (308, 404)
    if response.status_code == 308:
        assert "/api/docs/assets/" in response.headers["Location"]
    assert b"import" not in response.data and b"root:" not in response.data


def test_the_openapi_document_lists_the_probes(client) -> None:
    document = client.get("/api/openapi.json").get_json()
    assert {"/healthz", "/readyz", "/metrics"} <= set(document["paths"])
    readiness = document["paths"]["/readyz"]["get"]["responses"]
    assert {"200", "503"} <= set(readiness)


def test_footer_links_the_api_docs(client) -> None:
    assert 'href="/api/docs"' in client.get("/").get_data(as_text=True)


def test_a_multipart_part_without_a_name_is_a_bad_request_not_a_crash(client) -> None:
    body = b"--b\r\nContent-Disposition: form-data\r\n\r\n1,2\r\n--b--\r\n"
    response = client.post("/api/v1/test-courses/1/evidence", data=body,
                           content_type="multipart/form-data; boundary=b")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_the_operator_sees_only_the_operator_menu(client, login, make_org, make_user) -> None:
    login(make_user(make_org(kind="operator"), role="operator"))
    page = client.get("/").get_data(as_text=True)
    menu = page.split('aria-label="Hovedmenu"')[1].split("</nav>")[0]
    assert 'href="/admin"' in menu
    for other_role in ("/requests", "/extracts", "/workspace", "/reviews", "/matches",
                       "/test-courses", "/opportunities", "/statistics", "/catalog/mine"):
        assert f'href="{other_role}"' not in menu
