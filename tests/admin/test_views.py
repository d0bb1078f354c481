"""The console's API under /api/v1/admin: only the operator (scope platform:admin), every
change audited, bad input answered with a problem in the caller's language."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace import audit
from marketplace.audit import AuditEntry
from marketplace.consent import services as consent_services
from marketplace.delivery.models import Extract
from marketplace.identity import services as identity_services
from marketplace.identity.models import ApiClient, Organisation, User
from tests.access.test_services import drop_append_only_guard

READS = ["/api/v1/admin/organisations", "/api/v1/admin/users", "/api/v1/admin/api-clients",
         "/api/v1/admin/audit", "/api/v1/admin/audit/verify", "/api/v1/admin/queues/extracts",
         "/api/v1/admin/queues/workspace", "/api/v1/admin/consent-notice"]
WRITES = [("post", "/api/v1/admin/organisations",
           {"slug": "new-org", "name": "Ny", "kind": "company"}),
          ("post", "/api/v1/admin/organisations/1/deactivate", None),
          ("post", "/api/v1/admin/users", {"sub": "x", "email": "x@y.dk", "org": "platform",
                                            "role": "operator"}),
          ("patch", "/api/v1/admin/users/1", {"role": "reviewer"}),
          ("post", "/api/v1/admin/users/1/deactivate", None),
          ("post", "/api/v1/admin/api-clients", {"org": "platform", "scopes": ["catalog:write"]}),
          ("post", "/api/v1/admin/api-clients/1/rotate", None),
          ("post", "/api/v1/admin/api-clients/1/revoke", None),
          ("post", "/api/v1/admin/queues/extracts/1/retry", None),
          ("post", "/api/v1/admin/queues/workspace/1/retry", None),
          ("post", "/api/v1/admin/consent-notice", {"version": "2027-01", "summary": "Ny"})]


def _token(client, client_id, secret):
    return client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret))


def _counts(session):
    return (session.scalar(sa.select(sa.func.count()).select_from(Organisation)),
            session.scalar(sa.select(sa.func.count()).select_from(User)),
            session.scalar(sa.select(sa.func.count()).select_from(ApiClient)),
            session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)))


# --- who may call ----------------------------------------------------------------------------

def test_anonymous_callers_get_401_everywhere(client, operator):
    for path in READS:
        assert client.get(path).status_code == 401, path
    for method, path, body in WRITES:
        assert getattr(client, method)(path, json=body).status_code == 401, path


@pytest.mark.parametrize("who", ["citizen", "company", "holder"])
def test_other_people_signed_in_get_403_and_change_nothing(client, session, login, csrf_headers,
                                                          operator, others, who):
    login(others[who])
    headers = csrf_headers()
    before = _counts(session)
    for path in READS:
        assert client.get(path).status_code == 403, path
    for method, path, body in WRITES:
        response = getattr(client, method)(path, json=body, headers=headers)
        assert response.status_code == 403, (path, response.get_json())
    assert _counts(session) == before


def test_tokens_without_the_admin_scope_get_403(client, operator, api_headers, make_org):
    company = api_headers(make_org(kind="company"), scopes="access:request workspace:run")
    operator_catalog = api_headers(operator.org, scopes="catalog:write")
    for headers in (company, operator_catalog):
        for path in READS:
            assert client.get(path, headers=headers).status_code == 403, path
        response = client.post("/api/v1/admin/organisations", headers=headers,
                               json={"slug": "x-org", "name": "X", "kind": "company"})
        assert response.status_code == 403


def test_only_the_operator_organisation_can_hold_the_admin_scope(client, operator_token,
                                                                make_org, session):
    company = make_org(kind="company")
    response = client.post("/api/v1/admin/api-clients", headers=operator_token,
                           json={"org": company.slug, "scopes": ["platform:admin"]})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "scopes"


# --- organisations and users -----------------------------------------------------------------

def test_the_operator_creates_an_organisation_and_a_user_and_both_are_audited(
        client, session, operator_token):
    response = client.post("/api/v1/admin/organisations", headers=operator_token, json={
        "slug": "vital-care", "name": "Vital Care ApS", "kind": "company", "country": "se"})
    assert response.status_code == 201
    org = response.get_json()
    assert (org["slug"], org["country"], org["active"], org["users"]) == (
        "vital-care", "SE", True, 0)
    response = client.post("/api/v1/admin/users", headers=operator_token, json={
        "sub": "anna-vital", "email": "anna@vital.example", "name": "Anna", "org": "vital-care",
        "role": "company_member"})
    assert response.status_code == 201
    user = response.get_json()
    assert (user["org"], user["role"], user["active"]) == ("vital-care", "company_member", True)
    listed = client.get("/api/v1/admin/users?org=vital-care", headers=operator_token).get_json()
    assert [u["sub"] for u in listed["items"]] == ["anna-vital"]
    actions = [e.action for e in session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["organisation.created", "user.created"]


@pytest.mark.parametrize("body, field", [
    ({"slug": "A B", "name": "x", "kind": "company"}, "slug"),
    ({"slug": "ok-org", "name": "", "kind": "company"}, "name"),
    ({"slug": "ok-org", "name": "x" * 201, "kind": "company"}, "name"),
    ({"slug": "ok-org", "name": "Navn 010203-1234", "kind": "company"}, "name"),
    ({"slug": "ok-org", "name": "x", "kind": "pirate"}, "kind"),
    ({"slug": "ok-org", "name": "x", "kind": "company", "country": "Denmark"}, "country"),
    ({"slug": "ok-org", "name": "x", "kind": "company", "accredited": "yes"}, "accredited"),
    ({"slug": "ok-org", "name": "x", "kind": "company", "owner": "me"}, "owner"),
])
def test_a_bad_organisation_is_422_naming_the_field_and_nothing_is_made(
        client, session, operator_token, body, field):
    before = _counts(session)
    response = client.post("/api/v1/admin/organisations", headers=operator_token, json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in [e["field"] for e in response.get_json()["errors"]]
    assert _counts(session) == before


def test_a_taken_slug_is_409_and_malformed_json_400(client, operator, operator_token):
    response = client.post("/api/v1/admin/organisations", headers=operator_token,
                           json={"slug": "platform", "name": "Igen", "kind": "operator"})
    assert response.status_code == 409
    assert response.get_json()["errors"][0]["field"] == "slug"
    response = client.post("/api/v1/admin/organisations", headers=operator_token,
                           data="{not json", content_type="application/json")
    assert response.status_code == 400


def test_problems_come_in_the_callers_language(client, operator, operator_token):
    body = {"slug": "platform", "name": "Igen", "kind": "operator"}
    danish = client.post("/api/v1/admin/organisations", headers=operator_token, json=body)
    english = client.post("/api/v1/admin/organisations?lang=en", headers=operator_token,
                          json=body)
    assert "findes allerede" in danish.get_json()["detail"]
    assert "already exists" in english.get_json()["detail"]


@pytest.mark.parametrize("body, field", [
    ({"sub": "", "email": "a@b.dk", "org": "platform", "role": "operator"}, "sub"),
    ({"sub": "a\x00b", "email": "a@b.dk", "org": "platform", "role": "operator"}, "sub"),
    ({"sub": "a", "email": "not-mail", "org": "platform", "role": "operator"}, "email"),
    ({"sub": "a", "email": "a@b.dk", "org": "platform", "role": "king"}, "role"),
    ({"sub": "a", "email": "a@b.dk", "org": "platform", "role": "reviewer"}, "role"),
])
def test_a_bad_user_is_422_naming_the_field(client, session, operator_token, body, field):
    before = _counts(session)
    response = client.post("/api/v1/admin/users", headers=operator_token, json=body)
    assert response.status_code == 422, response.get_json()
    assert field in [e["field"] for e in response.get_json()["errors"]]
    assert _counts(session) == before


def test_a_user_in_an_unknown_organisation_is_404(client, operator_token):
    response = client.post("/api/v1/admin/users", headers=operator_token, json={
        "sub": "a", "email": "a@b.dk", "org": "nowhere", "role": "operator"})
    assert response.status_code == 404


def test_a_role_change_must_fit_the_organisation_and_is_audited(client, session, operator_token,
                                                               make_org, make_user):
    holder = make_org(kind="regional")
    user = make_user(holder, role="reviewer")
    session.commit()
    misfit = client.patch(f"/api/v1/admin/users/{user.id}", headers=operator_token,
                          json={"role": "company_member"})
    assert misfit.status_code == 422
    changed = client.patch(f"/api/v1/admin/users/{user.id}", headers=operator_token,
                           json={"role": "output_checker"})
    assert changed.status_code == 200 and changed.get_json()["role"] == "output_checker"
    (entry,) = audit.audit_trail(session, subject_type="user", subject_id=str(user.id))
    assert entry.action == "user.role_changed"
    assert entry.details == {"from": "reviewer", "to": "output_checker"}
    assert client.patch("/api/v1/admin/users/2147483648", headers=operator_token,
                        json={"role": "reviewer"}).status_code == 422
    assert client.patch("/api/v1/admin/users/999999", headers=operator_token,
                        json={"role": "reviewer"}).status_code == 404


def test_the_operator_cannot_lock_themselves_out(client, operator, as_operator):
    me = operator.user.id
    assert client.patch(f"/api/v1/admin/users/{me}", headers=as_operator,
                        json={"role": "operator"}).status_code == 403
    assert client.post(f"/api/v1/admin/users/{me}/deactivate",
                       headers=as_operator).status_code == 403
    assert client.post(f"/api/v1/admin/organisations/{operator.org.id}/deactivate",
                       headers=as_operator).status_code == 403


def test_a_deactivated_user_is_signed_out_at_once_and_cannot_sign_in(
        app, client, session, operator_token, make_org, make_user, login):
    company = make_org(kind="company")
    user = make_user(company, role="company_member")
    session.commit()
    login(user)
    assert client.get("/api/v1/me").status_code == 200
    operator = app.test_client()
    response = operator.post(f"/api/v1/admin/users/{user.id}/deactivate", headers=operator_token)
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert client.get("/api/v1/me").status_code == 401  # the live sign-in ended
    from marketplace.errors import Forbidden

    with pytest.raises(Forbidden, match="deaktiveret"):
        identity_services.sign_in_staff(session, sub=user.sub, claims={})
    again = operator.post(f"/api/v1/admin/users/{user.id}/deactivate", headers=operator_token)
    assert again.status_code == 409
    (entry,) = audit.audit_trail(session, subject_type="user", subject_id=str(user.id))
    assert entry.action == "user.deactivated"


def test_a_deactivated_organisation_loses_its_tokens_and_its_staff(
        client, session, operator_token, make_org, make_user, keyring):
    company = make_org(kind="company")
    user = make_user(company, role="company_member")
    issued = identity_services.create_api_client(session, keyring=keyring, org=company,
                                                 scopes="access:request")
    session.commit()
    token = _token(client, issued.client.client_id, issued.secret).get_json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    response = client.post(f"/api/v1/admin/organisations/{company.id}/deactivate",
                           headers=operator_token)
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    assert _token(client, issued.client.client_id, issued.secret).status_code == 401
    session.expire_all()
    assert not session.get(User, user.id).is_active


# --- API clients -----------------------------------------------------------------------------

def test_a_client_is_created_with_scopes_and_its_secret_shown_once(client, session,
                                                                  operator_token, make_org):
    company = make_org(kind="company")
    session.commit()
    response = client.post("/api/v1/admin/api-clients", headers=operator_token,
                           json={"org": company.slug, "scopes": ["access:request"]})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    issued = response.get_json()
    assert issued["scopes"] == ["access:request"] and issued["client_secret"]
    assert _token(client, issued["client_id"], issued["client_secret"]).status_code == 200
    listed = client.get("/api/v1/admin/api-clients", headers=operator_token).get_json()
    mine = next(c for c in listed["items"] if c["id"] == issued["id"])
    assert "client_secret" not in mine
    stored = session.get(ApiClient, issued["id"])
    assert issued["client_secret"] not in stored.secret_hash


@pytest.mark.parametrize("body, field", [
    ({"org": "x-org", "scopes": []}, "scopes"),
    ({"org": "x-org", "scopes": ["root"]}, "scopes[0]"),
    ({"org": "x-org", "scopes": "catalog:write"}, "scopes"),
    ({"org": "x-org", "scopes": ["workspace:run"]}, "scopes"),
])
def test_bad_client_requests_are_422(client, session, operator_token, make_org, body, field):
    make_org(kind="regional", slug="x-org")
    session.commit()
    response = client.post("/api/v1/admin/api-clients", headers=operator_token, json=body)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.get_json()["errors"]]


def test_rotation_stops_the_old_secret_and_its_tokens_at_once(client, session, operator_token,
                                                              make_org, keyring):
    company = make_org(kind="company")
    issued = identity_services.create_api_client(session, keyring=keyring, org=company,
                                                 scopes="access:request")
    session.commit()
    old_token = _token(client, issued.client.client_id, issued.secret).get_json()["access_token"]
    response = client.post(f"/api/v1/admin/api-clients/{issued.client.id}/rotate",
                           headers=operator_token)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    new_secret = response.get_json()["client_secret"]
    assert new_secret != issued.secret
    assert _token(client, issued.client.client_id, issued.secret).status_code == 401
    assert client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {old_token}"}).status_code == 401
    assert _token(client, issued.client.client_id, new_secret).status_code == 200
    (entry,) = audit.audit_trail(session, subject_type="api_client",
                                 subject_id=str(issued.client.id))
    assert entry.action == "api_client.secret_rotated"


def test_revocation_stops_the_client_at_once(client, session, operator_token, make_org, keyring):
    company = make_org(kind="company")
    issued = identity_services.create_api_client(session, keyring=keyring, org=company,
                                                 scopes="access:request")
    session.commit()
    token = _token(client, issued.client.client_id, issued.secret).get_json()["access_token"]
    path = f"/api/v1/admin/api-clients/{issued.client.id}"
    response = client.post(f"{path}/revoke", headers=operator_token)
    assert response.status_code == 200 and response.get_json()["revoked_at"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 401
    assert _token(client, issued.client.client_id, issued.secret).status_code == 401
    assert client.post(f"{path}/revoke", headers=operator_token).status_code == 409
    assert client.post(f"{path}/rotate", headers=operator_token).status_code == 409
    assert client.post("/api/v1/admin/api-clients/424242/revoke",
                       headers=operator_token).status_code == 404


# --- the audit log ---------------------------------------------------------------------------

def _entries(session, count, action="test.event"):
    made = [audit.record_audit(session, actor=None, action=action, subject_type="thing",
                               subject_id=str(n), details={"n": n}) for n in range(count)]
    session.commit()
    return made


def test_the_audit_log_is_searched_by_event_actor_subject_and_date_and_paged(
        client, session, operator_token):
    _entries(session, 5)
    _entries(session, 2, action="other.event")
    found = client.get("/api/v1/admin/audit?action=test.ev&per_page=2&page=2",
                       headers=operator_token).get_json()
    assert found["total"] == 5 and found["page"] == 2
    assert [e["subject_id"] for e in found["items"]] == ["2", "1"]  # newest first
    by_subject = client.get("/api/v1/admin/audit?subject_type=thing&subject_id=1",
                            headers=operator_token).get_json()
    assert {e["action"] for e in by_subject["items"]} == {"test.event", "other.event"}
    by_actor = client.get("/api/v1/admin/audit?actor=system&action=other",
                          headers=operator_token).get_json()
    assert by_actor["total"] == 2
    today = by_actor["items"][0]["at"][:10]
    in_range = client.get(f"/api/v1/admin/audit?since={today}&until={today}&action=test",
                          headers=operator_token).get_json()
    assert in_range["total"] == 5
    before = client.get("/api/v1/admin/audit?until=2001-01-01", headers=operator_token)
    assert before.get_json()["total"] == 0
    literal = client.get("/api/v1/admin/audit?action=%25", headers=operator_token).get_json()
    assert literal["total"] == 0  # a typed % matches itself, not everything


@pytest.mark.parametrize("query, field", [
    ("since=yesterday", "since"), ("until=2026-13-01", "until"),
    ("since=2026-02-01&until=2026-01-01", "until"), ("page=0", "page"),
    ("per_page=1000", "per_page"), ("action=" + "x" * 81, "action"),
])
def test_a_bad_audit_search_is_422(client, operator_token, query, field):
    response = client.get(f"/api/v1/admin/audit?{query}", headers=operator_token)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.get_json()["errors"]]


def test_verify_gives_the_commands_result_and_names_the_broken_entry(client, session,
                                                                     operator_token):
    made = _entries(session, 3)
    intact = client.get("/api/v1/admin/audit/verify", headers=operator_token).get_json()
    assert intact["ok"] is True and intact["checked"] >= 3
    drop_append_only_guard(session)
    session.execute(sa.update(AuditEntry).where(AuditEntry.id == made[1].id)
                    .values(action="test.forged"))
    session.commit()
    broken = client.get("/api/v1/admin/audit/verify", headers=operator_token).get_json()
    assert broken["ok"] is False and broken["first_broken_id"] == made[1].id
    assert broken["reason"] == "the entry was edited"


# --- job queues ------------------------------------------------------------------------------

def _failed_extract(session, world):
    from marketplace.db import utcnow
    from marketplace.delivery import services as delivery_services

    permit = world.make_permit()
    extract = delivery_services.request_extract(session, actor=world.company_actor,
                                                permit_id=permit.id, dataset_id=None,
                                                now=utcnow())
    extract.status, extract.attempts, extract.error = "failed", 3, "the worker kept dying"
    session.commit()
    return extract


def test_failed_extracts_are_listed_with_age_attempts_and_error_and_retried(
        client, session, operator_token, world):
    extract = _failed_extract(session, world)
    listed = client.get("/api/v1/admin/queues/extracts?status=failed",
                        headers=operator_token).get_json()
    (item,) = listed["items"]
    assert (item["id"], item["status"], item["attempts"], item["error"], item["company"]) == (
        extract.id, "failed", 3, "the worker kept dying", world.company.name)
    assert item["age_seconds"] >= 0
    response = client.post(f"/api/v1/admin/queues/extracts/{extract.id}/retry",
                           headers=operator_token)
    assert response.status_code == 200 and response.get_json()["status"] == "queued"
    session.expire_all()
    assert session.get(Extract, extract.id).status == "queued"
    assert audit.audit_trail(session, subject_type="extract",
                             subject_id=str(extract.id))[-1].action == "extract.retried"
    again = client.post(f"/api/v1/admin/queues/extracts/{extract.id}/retry",
                        headers=operator_token)
    assert again.status_code == 409
    assert client.get("/api/v1/admin/queues/extracts?status=lost",
                      headers=operator_token).status_code == 422


def test_a_failed_workspace_job_is_listed_and_the_operator_may_retry_it(
        client, session, operator_token, world):
    from marketplace.db import utcnow
    from marketplace.workspace import services as workspace_services
    from marketplace.workspace.models import WorkspaceJob

    permit = world.make_permit(pseudonymised=True)
    job = workspace_services.submit_job(session, actor=world.company_actor, permit_id=permit.id,
                                        name="Analyse", script="print(1)\n", now=utcnow())
    job.status, job.attempts, job.error = "failed", 1, "the sandbox could not start"
    session.commit()
    listed = client.get("/api/v1/admin/queues/workspace?status=failed",
                        headers=operator_token).get_json()
    assert [(i["id"], i["error"]) for i in listed["items"]] == [
        (job.id, "the sandbox could not start")]
    response = client.post(f"/api/v1/admin/queues/workspace/{job.id}/retry",
                           headers=operator_token)
    assert response.status_code == 200
    session.expire_all()
    assert session.get(WorkspaceJob, job.id).status == "queued"


# --- the consent notice ----------------------------------------------------------------------

def test_a_new_consent_notice_becomes_current_and_old_versions_cannot_return(
        client, session, operator_token):
    first = client.get("/api/v1/admin/consent-notice", headers=operator_token).get_json()
    assert first["current"]["version"] == consent_services.notice_version(session)
    assert first["history"] == []
    response = client.post("/api/v1/admin/consent-notice", headers=operator_token,
                           json={"version": "2027-01-15", "summary": "Nyt formål tilføjet."})
    assert response.status_code == 201
    state = response.get_json()
    assert state["current"]["version"] == "2027-01-15"
    assert state["current"]["summary"] == "Nyt formål tilføjet."
    assert consent_services.notice_version(session) == "2027-01-15"
    for version in ("2027-01-15", first["current"]["version"]):
        again = client.post("/api/v1/admin/consent-notice", headers=operator_token,
                            json={"version": version, "summary": "Igen"})
        assert again.status_code == 409
    (entry,) = audit.audit_trail(session, subject_type="consent_notice",
                                 subject_id=str(consent_services.current_notice(session).id))
    assert entry.action == "consent.notice_published"


@pytest.mark.parametrize("body, field", [
    ({"version": "", "summary": "x"}, "version"),
    ({"version": "v 2", "summary": "x"}, "version"),
    ({"version": "x" * 33, "summary": "x"}, "version"),
    ({"version": "v2", "summary": "   "}, "summary"),
    ({"version": "v2", "summary": "x" * 4001}, "summary"),
    ({"version": "v2"}, "summary"),
])
def test_a_bad_notice_is_422(client, session, operator_token, body, field):
    response = client.post("/api/v1/admin/consent-notice", headers=operator_token, json=body)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.get_json()["errors"]]
    assert consent_services.current_notice(session) is None


def test_the_openapi_document_lists_the_console_with_its_scope(client):
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/admin/api-clients"]["post"]
    assert {"oauth2": ["platform:admin"]} in operation["security"]
    assert {"201", "401", "403", "422"} <= set(operation["responses"])
    scopes = spec["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert "platform:admin" in scopes["scopes"]
