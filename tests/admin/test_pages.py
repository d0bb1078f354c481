"""The console's pages under /admin: Danish by default, English on request, only for the
operator, every form behind CSRF with its errors beside the fields."""
from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from marketplace import audit
from marketplace.audit import AuditEntry
from marketplace.consent import services as consent_services
from marketplace.identity.models import ApiClient, Organisation, User
from tests.admin.conftest import form_post

PAGES = {"/admin": "Driftskonsol", "/admin/organisations": "Organisationer",
         "/admin/users": "Brugere", "/admin/api-clients": "API-klienter",
         "/admin/audit": "Revisionsspor", "/admin/audit/verify": "Kontrol af revisionssporet",
         "/admin/jobs": "Jobkøer", "/admin/consent-notice": "Samtykketekst"}
ENGLISH = {"/admin": "Operator's console", "/admin/users": "Users",
           "/admin/audit": "Audit trail", "/admin/consent-notice": "Consent notice"}
ACTIONS = ["/admin/organisations", "/admin/organisations/1/deactivate", "/admin/users",
           "/admin/users/1/role", "/admin/users/1/deactivate", "/admin/api-clients",
           "/admin/api-clients/1/rotate", "/admin/api-clients/1/revoke",
           "/admin/jobs/extracts/1/retry", "/admin/jobs/workspace/1/retry",
           "/admin/consent-notice"]


def _h1(response) -> str:
    found = re.search(r"<h1>(.*?)</h1>", response.get_data(as_text=True), re.S)
    return html.unescape(found.group(1).strip()) if found else ""


def _counts(session):
    return tuple(session.scalar(sa.select(sa.func.count()).select_from(model))
                 for model in (Organisation, User, ApiClient, AuditEntry))


def test_every_page_opens_for_the_operator_in_danish_and_english(client, as_operator):
    for path, heading in PAGES.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert _h1(response) == heading
    for path, heading in ENGLISH.items():
        assert _h1(client.get(f"{path}?lang=en")) == heading


def test_the_operator_home_links_the_console(client, as_operator):
    page = client.get("/?lang=da").get_data(as_text=True)
    assert 'href="/admin"' in page and "Driftskonsol" in page


def test_anonymous_visitors_are_sent_to_sign_in_and_cannot_act(client, session, operator):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    before = _counts(session)
    for path in ACTIONS:
        assert form_post(client, path, {"name": "x"}).status_code in (302, 401), path
    assert _counts(session) == before


@pytest.mark.parametrize("who", ["citizen", "company", "holder"])
def test_other_people_get_403_on_every_page_and_action(client, session, login, operator, others,
                                                       who):
    login(others[who])
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Du har ikke adgang" in response.get_data(as_text=True)
    before = _counts(session)
    for path in ACTIONS:
        assert form_post(client, path, {"slug": "x-org", "name": "X", "kind": "company",
                                        "role": "reviewer", "version": "v9",
                                        "summary": "x"}).status_code == 403, path
    assert _counts(session) == before


def test_a_form_without_its_csrf_token_is_refused(client, session, as_operator):
    before = _counts(session)
    response = client.post("/admin/organisations",
                           data={"slug": "x-org", "name": "X", "kind": "company"})
    assert response.status_code == 403
    assert _counts(session) == before


def test_an_organisation_is_created_from_the_form(client, session, as_operator):
    response = form_post(client, "/admin/organisations", {
        "name": "Vital Care ApS", "slug": "vital-care", "kind": "company", "country": "dk"},
        follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Organisationen Vital Care ApS er oprettet." in page
    assert "<code>vital-care</code>" in page
    assert session.scalars(sa.select(Organisation).where(
        Organisation.slug == "vital-care")).one().kind == "company"


def test_bad_organisation_input_is_shown_beside_the_fields_and_nothing_made(
        client, session, as_operator):
    before = _counts(session)
    response = form_post(client, "/admin/organisations", {
        "name": "<script>alert(1)</script>" + "x" * 200, "slug": "Not A Slug", "kind": "pirate",
        "country": "Danmark"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("name", "slug", "kind", "country"):
        assert f'id="{field}-error"' in page, field
        assert re.search(f'id="{field}"[^>]*aria-invalid="true"', page), field
    assert "højst 200 tegn" in page and "skal være en af" in page
    assert "<script>alert(1)" not in page  # the hostile name is shown escaped
    assert _counts(session) == before
    english = form_post(client, "/admin/organisations?lang=en", {"name": "", "slug": "x-y-z",
                                                                 "kind": "company"})
    assert english.status_code == 422 and "required" in english.get_data(as_text=True).lower()


def test_a_taken_slug_is_shown_beside_the_field(client, session, operator, as_operator):
    response = form_post(client, "/admin/organisations", {
        "name": "Igen", "slug": operator.org.slug, "kind": "operator"})
    assert response.status_code == 422
    assert "der findes allerede en organisation med den kortform" in response.get_data(
        as_text=True)


def test_users_are_added_given_another_role_and_deactivated_from_the_pages(
        client, session, as_operator, make_org):
    holder = make_org(kind="regional", slug="herlev")
    session.commit()
    response = form_post(client, "/admin/users", {
        "name": "Sara Holm", "email": "sara@herlev.example", "sub": "sara-herlev",
        "org": "herlev", "role": "reviewer"}, follow_redirects=True)
    assert "Sara Holm er tilføjet til" in response.get_data(as_text=True)
    user = session.scalars(sa.select(User).where(User.sub == "sara-herlev")).one()
    assert user.org_id == holder.id
    response = form_post(client, f"/admin/users/{user.id}/role", {"role": "output_checker"},
                         follow_redirects=True)
    assert "Sara Holm har nu rollen Outputkontrollant." in response.get_data(as_text=True)
    assert form_post(client, f"/admin/users/{user.id}/role",
                     {"role": "emperor"}).status_code == 422
    response = form_post(client, f"/admin/users/{user.id}/deactivate", follow_redirects=True)
    assert "Sara Holm er deaktiveret" in response.get_data(as_text=True)
    session.expire_all()
    assert not session.get(User, user.id).is_active
    assert form_post(client, f"/admin/users/{user.id}/deactivate").status_code == 409
    assert form_post(client, "/admin/users/99999999999/deactivate").status_code == 404


def test_bad_user_input_is_shown_beside_the_fields(client, session, as_operator):
    before = _counts(session)
    response = form_post(client, "/admin/users", {
        "name": "", "email": "no-mail", "sub": "", "org": "nowhere-org", "role": "operator"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("email", "sub"):
        assert f'id="{field}-error"' in page
    response = form_post(client, "/admin/users", {
        "name": "A", "email": "a@b.dk", "sub": "a", "org": "nowhere-org", "role": "operator"})
    assert response.status_code == 422
    assert "organisationen findes ikke" in response.get_data(as_text=True)
    assert _counts(session) == before


def test_an_api_client_secret_is_shown_once_and_can_be_rotated_and_revoked(
        client, session, as_operator, make_org):
    make_org(kind="company", slug="pulmo")
    session.commit()
    response = form_post(client, "/admin/api-clients",
                         {"org": "pulmo", "scopes": ["access:request", "workspace:run"]})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = re.search(r'<code id="client-secret">([^<]+)</code>', page).group(1)
    stored = session.scalars(sa.select(ApiClient).order_by(ApiClient.id.desc())).first()
    assert stored.scope_list == ["access:request", "workspace:run"]
    assert secret not in client.get("/admin/api-clients").get_data(as_text=True)
    rotated = form_post(client, f"/admin/api-clients/{stored.id}/rotate")
    assert rotated.status_code == 200 and rotated.headers["Cache-Control"] == "no-store"
    assert secret not in rotated.get_data(as_text=True)
    response = form_post(client, f"/admin/api-clients/{stored.id}/revoke", follow_redirects=True)
    assert "er tilbagekaldt" in response.get_data(as_text=True)
    assert form_post(client, f"/admin/api-clients/{stored.id}/revoke").status_code == 409


def test_bad_api_client_input_is_shown_beside_the_fields(client, session, as_operator,
                                                         make_org):
    make_org(kind="regional", slug="herlev")
    session.commit()
    before = _counts(session)
    response = form_post(client, "/admin/api-clients", {"org": "herlev"})
    assert response.status_code == 422 and 'id="scopes-error"' in response.get_data(as_text=True)
    response = form_post(client, "/admin/api-clients",
                         {"org": "herlev", "scopes": ["workspace:run"]})
    assert response.status_code == 422
    assert "kan ikke få et af de valgte scopes" in response.get_data(as_text=True)
    assert _counts(session) == before


def test_the_audit_page_searches_pages_and_verifies(client, session, as_operator):
    for n in range(3):
        audit.record_audit(session, actor=None, action="permit.issued", subject_type="permit",
                           subject_id=str(n), details={"n": n})
    session.commit()
    page = client.get("/admin/audit?action=permit.issued&per_page=2&actor=&since=&until="
                      ).get_data(as_text=True)
    assert "3 hændelser fundet." in page and "Side 1 af 2" in page
    assert "page=2" in page and "action=permit.issued" in page
    bad = client.get("/admin/audit?since=2026-05-01&until=2026-04-01")
    assert bad.status_code == 422
    assert "skal være samme dag som eller efter fra-datoen" in bad.get_data(as_text=True)
    assert client.get("/admin/audit?since=tomorrow").status_code == 422
    verdict = client.get("/admin/audit/verify").get_data(as_text=True)
    assert "Kæden er ubrudt." in verdict


def test_the_job_page_lists_a_failed_extract_and_retries_it(client, session, as_operator,
                                                            world):
    from tests.admin.test_views import _failed_extract

    extract = _failed_extract(session, world)
    page = client.get("/admin/jobs?status=failed").get_data(as_text=True)
    assert "the worker kept dying" in page and world.company.name in page
    response = form_post(client, f"/admin/jobs/extracts/{extract.id}/retry",
                         follow_redirects=True)
    assert f"Udtræk {extract.id} står i kø igen." in response.get_data(as_text=True)
    assert form_post(client, f"/admin/jobs/extracts/{extract.id}/retry").status_code == 409
    assert client.get("/admin/jobs?queue=printer").status_code == 422


def test_a_consent_notice_is_published_from_the_page(client, session, as_operator):
    response = form_post(client, "/admin/consent-notice",
                         {"version": "2027-02-01", "summary": "Nyt formål: kvalitetsudvikling."},
                         follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Samtykketekstens version 2027-02-01 er offentliggjort." in page
    assert "Gældende version: 2027-02-01" in page
    assert consent_services.notice_version(session) == "2027-02-01"
    again = form_post(client, "/admin/consent-notice", {"version": "2027-02-01", "summary": "x"})
    assert again.status_code == 422
    assert "versionen er brugt før" in again.get_data(as_text=True)
    bad = form_post(client, "/admin/consent-notice", {"version": "ny version!", "summary": ""})
    assert bad.status_code == 422
    assert 'id="version-error"' in bad.get_data(as_text=True)
    assert 'id="summary-error"' in bad.get_data(as_text=True)


def test_audit_events_are_named_in_words_in_both_languages(client, session, as_operator):
    audit.record_audit(session, actor=None, action="permit.issued", subject_type="permit",
                       subject_id="7", details={})
    session.commit()
    danish = client.get("/admin/audit?action=permit.issued").get_data(as_text=True)
    assert "Tilladelse udstedt" in danish and "<code>permit.issued</code>" in danish
    english = client.get("/admin/audit?action=permit.issued&lang=en").get_data(as_text=True)
    assert "Permit issued" in english
