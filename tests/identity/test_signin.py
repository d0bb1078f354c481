"""The real OIDC flow (authorization code + PKCE) against oidc-provider-mock on loopback."""

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import select

from marketplace.db import session_scope
from marketplace.identity.models import Citizen, SignIn


def _set_provider_user(issuer: str, sub: str, claims: dict) -> None:
    response = requests.put(f"{issuer}/users/{sub}", json=claims, timeout=5)
    assert response.status_code == 204


def _authorize(browser: requests.Session, live_url: str, sub: str) -> str:
    """Go to the provider and approve as `sub`; return our callback URL with code and state."""
    start = browser.get(f"{live_url}/auth/login?next=/consent", allow_redirects=False, timeout=5)
    assert start.status_code == 302
    authorize_url = start.headers["Location"]
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    approved = browser.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=5)
    assert approved.status_code == 302
    return approved.headers["Location"]


def _count(app, model) -> int:
    with session_scope(app) as db:
        return len(db.scalars(select(model)).all())


def test_citizen_signs_in_with_cpr_claim(live_server, oidc_provider) -> None:
    _set_provider_user(oidc_provider, "citizen-flow", {"cpr": "150385-2468", "name": "Ida Holm"})
    browser = requests.Session()
    callback = _authorize(browser, live_server.url, "citizen-flow")
    done = browser.get(callback, allow_redirects=False, timeout=5)
    assert done.status_code == 302 and done.headers["Location"] == "/consent"
    me = browser.get(f"{live_server.url}/api/v1/me", timeout=5).json()
    assert me["role"] == "citizen" and me["name"] == "Ida Holm"
    assert me["cpr_masked"] == "150385-XXXX"


def test_staff_member_signs_in_by_subject(live_server, oidc_provider) -> None:
    from marketplace.identity import services

    with session_scope(live_server.app) as db:
        org = services.create_org(db, slug="flow-hospital", name="Flow Hospital", kind="regional")
        services.add_user(db, sub="staff-flow", email="s@flow.example", org=org, role="reviewer")
    _set_provider_user(oidc_provider, "staff-flow", {"email": "s@flow.example", "name": "Sam"})
    browser = requests.Session()
    done = browser.get(_authorize(browser, live_server.url, "staff-flow"), allow_redirects=False,
                       timeout=5)
    assert done.status_code == 302
    me = browser.get(f"{live_server.url}/api/v1/me", timeout=5).json()
    assert me["role"] == "reviewer" and me["org"] == "flow-hospital"


def test_unknown_user_without_cpr_is_refused(live_server, oidc_provider) -> None:
    _set_provider_user(oidc_provider, "nobody-flow", {"email": "n@x.example"})
    browser = requests.Session()
    sign_ins = _count(live_server.app, SignIn)
    done = browser.get(_authorize(browser, live_server.url, "nobody-flow"), timeout=5)
    assert done.status_code == 403
    assert _count(live_server.app, SignIn) == sign_ins


@pytest.mark.parametrize("claim", ["3102851234", "12345", "", "070385-12345"])
def test_malformed_cpr_claim_is_refused_and_never_echoed(live_server, oidc_provider, claim
                                                        ) -> None:
    _set_provider_user(oidc_provider, "bad-cpr", {"cpr": claim, "name": "X"})
    browser = requests.Session()
    citizens = _count(live_server.app, Citizen)
    done = browser.get(_authorize(browser, live_server.url, "bad-cpr"), timeout=5)
    assert done.status_code == 401
    assert claim not in done.text or not claim
    assert _count(live_server.app, Citizen) == citizens


def test_tampered_state_is_refused(live_server, oidc_provider) -> None:
    browser = requests.Session()
    callback = _authorize(browser, live_server.url, "citizen-demo")
    parts = urlsplit(callback)
    query = parse_qs(parts.query)
    query["state"] = ["tampered" + query["state"][0]]
    tampered = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    response = browser.get(tampered, allow_redirects=False, timeout=5)
    assert response.status_code == 401
    assert browser.get(f"{live_server.url}/api/v1/me", timeout=5).status_code == 401


def test_replayed_code_is_refused(live_server, oidc_provider) -> None:
    browser = requests.Session()
    first = _authorize(browser, live_server.url, "citizen-demo")
    assert browser.get(first, allow_redirects=False, timeout=5).status_code == 302
    # An attacker replays the used code with a fresh, valid state of their own.
    attacker = requests.Session()
    fresh = _authorize(attacker, live_server.url, "citizen-demo")
    old_code = parse_qs(urlsplit(first).query)["code"][0]
    parts = urlsplit(fresh)
    query = parse_qs(parts.query)
    query["code"] = [old_code]
    replay = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    response = attacker.get(replay, allow_redirects=False, timeout=5)
    assert response.status_code == 401
    assert attacker.get(f"{live_server.url}/api/v1/me", timeout=5).status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example",
                                    "/\\evil.example", "/\tevil"])
def test_next_parameter_cannot_redirect_off_site(live_server, oidc_provider, target) -> None:
    browser = requests.Session()
    start = browser.get(f"{live_server.url}/auth/login", params={"next": target},
                        allow_redirects=False, timeout=5)
    approved = browser.post(start.headers["Location"], data={"sub": "citizen-demo"},
                            allow_redirects=False, timeout=5)
    done = browser.get(approved.headers["Location"], allow_redirects=False, timeout=5)
    assert done.headers["Location"] == "/consent"
