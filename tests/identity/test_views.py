"""The token endpoint, bearer authentication, /api/v1/me, CSRF, errors and security headers."""

import re
from datetime import timedelta

import pytest

from marketplace.db import utcnow
from marketplace.identity import services
from marketplace.identity.models import ApiToken


def _client(session, keyring, org, scopes="catalog:write"):
    issued = services.create_api_client(session, keyring=keyring, org=org, scopes=scopes)
    session.commit()
    return issued.client.client_id, issued.secret


def test_client_credentials_token_by_basic_and_form(client, session, keyring, make_org) -> None:
    client_id, secret = _client(session, keyring, make_org(kind="national"))
    basic = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(client_id, secret))
    assert basic.status_code == 200
    assert basic.get_json()["token_type"].lower() == "bearer"
    assert basic.get_json()["scope"] == "catalog:write"
    form = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                             "client_id": client_id, "client_secret": secret})
    assert form.status_code == 200
    token = form.get_json()["access_token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["kind"] == "client"
    assert "csrf_token" not in me.get_json()


def test_wrong_secret_is_a_401_problem(client, session, keyring, make_org) -> None:
    client_id, _secret = _client(session, keyring, make_org(kind="national"))
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(client_id, "wrong"))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["error"] == "invalid_client"
    assert session.query(ApiToken).count() == 0


def test_unknown_or_ungranted_scope_is_a_403_problem(client, session, keyring, make_org) -> None:
    client_id, secret = _client(session, keyring, make_org(kind="national"))
    for scope in ("root:all", "access:request"):
        response = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                     "scope": scope}, auth=(client_id, secret))
        assert response.status_code == 403, scope
        assert response.get_json()["error"] == "invalid_scope"


def test_expired_and_forged_tokens_are_refused(client, session, keyring, make_org, api_headers
                                               ) -> None:
    headers = api_headers(make_org(kind="national"))
    token = session.query(ApiToken).one()
    token.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    expired = client.get("/api/v1/me", headers=headers)
    assert expired.status_code == 401
    assert "udløbet" in expired.get_json()["detail"]
    forged = client.get("/api/v1/me", headers={"Authorization": "Bearer mkt.forged"})
    assert forged.status_code == 401
    malformed = client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert malformed.status_code == 401


def test_signed_in_citizen_sees_masked_cpr_and_csrf(client, login, make_citizen) -> None:
    citizen, _cpr = make_citizen(cpr="0703851234", name="Mette")
    login(citizen)
    body = client.get("/api/v1/me").get_json()
    assert body["role"] == "citizen" and body["cpr_masked"] == "070385-XXXX"
    assert body["csrf_token"]
    assert "0703851234" not in client.get("/api/v1/me").get_data(as_text=True)


def test_logout_needs_csrf_and_ends_the_sign_in(client, login, make_citizen) -> None:
    citizen, _ = make_citizen()
    login(citizen)
    refused = client.post("/auth/logout")
    assert refused.status_code == 403
    assert client.get("/api/v1/me").status_code == 200
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    with client.session_transaction() as cookie:
        stolen = dict(cookie)
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/me").status_code == 401
    # A copy of the cookie taken before logout does not work afterwards.
    with client.session_transaction() as cookie:
        cookie.update(stolen)
    assert client.get("/api/v1/me").status_code == 401


def test_forged_session_cookie_is_anonymous(client) -> None:
    client.set_cookie("marketplace_session", "eyJzaWQiOiJ4In0.forged.signature")
    assert client.get("/api/v1/me").status_code == 401


def test_expired_sign_in_is_anonymous(client, session, login, make_citizen) -> None:
    from marketplace.identity.models import SignIn

    citizen, _ = make_citizen()
    login(citizen)
    record = session.query(SignIn).one()
    record.last_seen_at = utcnow() - timedelta(hours=2)
    session.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_oversized_body_is_413_and_stores_nothing(client, session) -> None:
    response = client.post("/oauth/token", data={"grant_type": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_browser_errors_are_friendly_pages_in_both_languages(client) -> None:
    danish = client.get("/does-not-exist", headers={"Accept": "text/html"})
    assert danish.status_code == 404 and "Siden findes ikke" in danish.get_data(as_text=True)
    english = client.get("/does-not-exist?lang=en", headers={"Accept": "text/html"})
    assert "Page not found" in english.get_data(as_text=True)


def test_security_headers_on_every_response(client) -> None:
    for path in ("/", "/api/openapi.json", "/nowhere"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" not in headers
    secure = client.get("/", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_openapi_describes_every_api_route(app, client) -> None:
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    expected = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
                for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")}
    assert expected <= set(document["paths"])
    for path, operations in document["paths"].items():
        for operation in operations.values():
            # A summary equal to the endpoint name means the view has no docstring.
            assert operation["summary"] != operation["operationId"].rsplit(".", 1)[0], path


def test_production_refuses_development_sign_in_settings(tmp_path) -> None:
    from marketplace import create_app

    with pytest.raises(RuntimeError, match="OIDC_ISSUER"):
        create_app({"ENV": "production", "SECRET_KEY": "x" * 40,
                    "MASTER_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "DATA_DIR": tmp_path})


def test_staff_calling_a_citizen_api_gets_403(client, login, make_org, make_user) -> None:
    login(make_user(make_org(kind="regional"), role="reviewer"))
    assert client.get("/api/v1/me/consents").status_code == 403


def test_signed_in_pages_are_never_cached(client, login, make_citizen) -> None:
    citizen, _ = make_citizen()
    login(citizen)
    assert client.get("/consent").headers["Cache-Control"] == "no-store"


def test_wrong_client_secrets_are_throttled_per_client_and_address(client, session, keyring,
                                                                   make_org) -> None:
    org = make_org(kind="company")
    issued = services.create_api_client(session, keyring=keyring, org=org,
                                        scopes="access:request")
    other = services.create_api_client(session, keyring=keyring, org=org,
                                       scopes="access:request")
    session.commit()
    form = {"grant_type": "client_credentials"}
    wrong = (issued.client.client_id, "not-the-secret")
    answers = [client.post("/oauth/token", data=form, auth=wrong).status_code
               for _ in range(10)]
    assert answers == [401] * 10
    throttled = client.post("/oauth/token", data=form, auth=wrong)
    assert throttled.status_code == 429
    assert throttled.mimetype == "application/problem+json"
    assert int(throttled.headers["Retry-After"]) >= 1
    # Even the right secret waits now, but another client from the same address does not.
    right = (issued.client.client_id, issued.secret)
    assert client.post("/oauth/token", data=form, auth=right).status_code == 429
    other_right = (other.client.client_id, other.secret)
    assert client.post("/oauth/token", data=form, auth=other_right).status_code == 200


def test_successful_token_requests_are_never_throttled(client, session, keyring,
                                                       make_org) -> None:
    org = make_org(kind="company")
    issued = services.create_api_client(session, keyring=keyring, org=org,
                                        scopes="access:request")
    session.commit()
    for _ in range(30):
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(issued.client.client_id, issued.secret))
        assert response.status_code == 200


def test_token_endpoint_answers_oauth_errors_not_validation_errors(client) -> None:
    for body in ({"grant_type": "client_credentials"}, {"grant_type": "password"}, {}):
        response = client.post("/oauth/token", data=body)
        assert 400 <= response.status_code < 500
        assert response.mimetype == "application/problem+json"
        assert "error" in response.get_json()


def test_the_typed_edge_documents_identity_catalog_and_consent(client) -> None:
    document = client.get("/api/openapi.json").get_json()
    create = document["paths"]["/api/v1/datasets"]["post"]
    assert set(create["responses"]) >= {"201", "401", "403", "422"}
    assert create["security"][0] == {"oauth2": ["catalog:write"]}
    assert "application/json" in create["requestBody"]["content"]
    upload = document["paths"]["/api/v1/datasets/{dataset_id}/data"]["put"]
    assert {"text/csv", "application/vnd.apache.parquet"} <= set(
        upload["requestBody"]["content"])
    assert "text/turtle" in document["paths"]["/catalog.ttl"]["get"]["responses"]["200"][
        "content"]
    assert "/catalog.jsonld" in document["paths"] and "/oauth/token" in document["paths"]
    search = document["paths"]["/api/v1/datasets"]["get"]
    assert {p["name"] for p in search["parameters"]} >= {"q", "theme", "page", "per_page"}
    assert document["paths"]["/api/v1/me/consents"]["put"]["requestBody"]
