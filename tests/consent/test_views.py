"""The citizen's consent API and pages: own records only, CSRF, bad input, no CPR shown."""
import json
import logging
import re

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.bundle import Bundle

from marketplace.consent import services
from marketplace.consent.models import ConsentEvent, Guardianship
from marketplace.cpr import contains_cpr
from marketplace.db import utcnow
from marketplace.identity import services as identity
from tests.consent.conftest import CHILD_CPR

PURPOSE = "company_research"
CPR_SHAPE = re.compile(r"(?<!\d)\d{6}-?\d{4}(?!\d)")


def event_count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent))


def put_choice(client, headers, **body):
    return client.put("/api/v1/me/consents", headers=headers,
                      data=json.dumps({"scope": {"type": "all", "id": None}, "purpose": PURPOSE,
                                       "decision": "permit"} | body))


def test_purposes_are_public(client):
    response = client.get("/api/v1/purposes")
    assert response.status_code == 200
    purposes = {p["code"]: p for p in response.get_json()}
    assert purposes["company_research"]["commercial"] is True
    assert purposes["reidentification"]["prohibited"] is True
    assert {"label_da", "label_en", "ehds_article", "duo"} <= set(purposes["education"])


def test_change_a_choice_and_read_it_back(client, citizen, headers, session):
    response = put_choice(client, headers, decision="deny")
    assert response.status_code == 200
    body = client.get("/api/v1/me/consents").get_json()
    assert body["opt_out"] is False
    (choice,) = body["choices"]
    assert choice["scope"] == {"type": "all", "id": None}
    assert (choice["purpose"], choice["decision"], choice["acted_by"]) == (PURPOSE, "deny", "self")
    assert choice["at"]
    (event,) = client.get("/api/v1/me/consents/history").get_json()
    assert event["channel"] == "api" and event["decision"] == "deny"


def test_opt_out_and_back(client, citizen, headers):
    assert client.post("/api/v1/me/opt-out", headers=headers).get_json()["opt_out"] is True
    assert client.get("/api/v1/me/consents").get_json()["opt_out"] is True
    assert client.delete("/api/v1/me/opt-out", headers=headers).get_json()["opt_out"] is False
    history = client.get("/api/v1/me/consents/history").get_json()
    assert [e["decision"] for e in history] == ["opt_out", "opt_out_withdrawn"]


@pytest.mark.parametrize(("body", "status"), [
    ("not json", 400),
    ("[1, 2]", 422),  # JSON, but not the object the model describes
    (json.dumps({"scope": "all", "purpose": PURPOSE, "decision": "permit"}), 422),
    (json.dumps({"scope": {"type": "all"}, "purpose": "advertising_marketing",
                 "decision": "permit"}), 422),
    (json.dumps({"scope": {"type": "holder", "id": -1}, "purpose": PURPOSE,
                 "decision": "deny"}), 422),
    (json.dumps({"scope": {"type": "all"}, "purpose": "<script>alert(1)</script>",
                 "decision": "permit"}), 422),
    (json.dumps({"scope": {"type": "all"}, "purpose": PURPOSE, "decision": "x" * 500_000}), 422),
    (json.dumps({"scope": {"type": "all"}, "purpose": PURPOSE, "decision": "x" * 2_000_000}),
     413),
])
def test_bad_input_is_refused_clearly_and_nothing_is_stored(client, citizen, headers, session,
                                                            body, status):
    response = client.put("/api/v1/me/consents", headers=headers, data=body)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status and problem["detail"]
    assert "<script>" not in response.get_data(as_text=True)
    assert event_count(session) == 0


def test_anonymous_and_staff_callers_are_turned_away(client, make_org, make_user, login):
    assert client.get("/api/v1/me/consents").status_code == 401
    page = client.get("/consent")
    assert page.status_code == 302 and "/auth/login" in page.headers["Location"]
    login(make_user(make_org(kind="regional"), role="reviewer"))
    assert client.get("/api/v1/me/consents").status_code == 403
    assert client.get("/consent").status_code == 403


def test_state_changes_need_the_csrf_token(client, citizen, session):
    json_headers = {"Content-Type": "application/json"}
    assert put_choice(client, json_headers).status_code in (400, 403)
    assert client.post("/api/v1/me/opt-out").status_code in (400, 403)
    form = {"purpose": PURPOSE, "target": "all", "decision": "permit"}
    assert client.post("/consent/choices", data=form).status_code in (400, 403)
    assert event_count(session) == 0


def test_a_csrf_token_from_another_session_is_refused(client, app, citizen, csrf_headers,
                                                      make_citizen, session):
    stolen = csrf_headers()
    other_client = app.test_client()
    other, _ = make_citizen(name="Anden")
    from marketplace.identity import sessions as sign_ins
    record = sign_ins.start_sign_in(session, kind="citizen", subject_id=other.id)
    session.commit()
    with other_client.session_transaction() as cookie:
        cookie["sid"] = record.id
    response = put_choice(other_client, {**stolen, "Content-Type": "application/json"})
    assert response.status_code in (400, 403)
    assert event_count(session) == 0


def test_a_signed_out_session_can_no_longer_change_consent(client, citizen, headers, session):
    assert client.post("/auth/logout", headers=headers).status_code in (302, 303)
    assert client.get("/api/v1/me/consents").status_code == 401
    assert put_choice(client, headers).status_code in (400, 401, 403)
    assert event_count(session) == 0


def test_fhir_receipt_download(client, citizen, headers, keyring):
    put_choice(client, headers)
    client.post("/api/v1/me/opt-out", headers=headers)
    response = client.get("/api/v1/me/consents/fhir?download=1")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert "attachment" in response.headers["Content-Disposition"]
    bundle = response.get_json()
    Bundle.model_validate(bundle)
    assert [e["resource"]["provision"]["type"] for e in bundle["entry"]] == ["deny", "permit"]
    text = response.get_data(as_text=True)
    assert identity.reveal_cpr(citizen, keyring=keyring) not in text
    assert not contains_cpr(text)  # random hex ids may hold ten digits, never a valid CPR


def test_iso_receipt_download(client, citizen, headers):
    put_choice(client, headers, decision="deny", purpose="education")
    record = client.get("/api/v1/me/consents/receipt").get_json()
    assert record["schema_version"].startswith("ISO/IEC TS 27560")
    assert [(c["purpose"]["code"], c["state"]) for c in record["consents"]] == [
        ("education", "refused")]


def test_data_uses_api_lists_only_the_citizens_own(client, citizen, session, make_org,
                                                   make_dataset, make_citizen):
    holder = make_org(kind="regional", name="Herlev Hospital")
    company = make_org(kind="company", name="Pulmo Monitor ApS")
    dataset = make_dataset(holder, title="KOL-forløb")
    other = make_citizen()[0]
    for extract_id, key in ((1, citizen.cpr_index), (2, other.cpr_index)):
        services.record_data_uses(session, extract_id=extract_id, permit_id=9,
                                  dataset_id=dataset.id, holder_org_id=holder.id,
                                  company_org_id=company.id, purpose=PURPOSE,
                                  subject_keys=[key], at=utcnow())
    session.commit()
    (use,) = client.get("/api/v1/me/data-uses").get_json()
    assert use["extract_id"] == 1 and use["permit_id"] == 9 and use["purpose"] == PURPOSE
    assert use["dataset"]["title"] == "KOL-forløb"
    assert use["company"]["name"] == "Pulmo Monitor ApS"
    page = client.get("/my-data-uses").get_data(as_text=True)
    assert "Pulmo Monitor ApS" in page and "Herlev Hospital" in page


def test_consent_page_in_danish_and_english_shows_only_the_masked_cpr(client, citizen,
                                                                      keyring):
    page = client.get("/consent")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'lang="da"' in html and "Mit samtykke" in html and "Fravælg al sekundær brug" in html
    cpr = identity.reveal_cpr(citizen, keyring=keyring)
    assert cpr not in html and f"{cpr[:6]}-{cpr[6:]}" not in html
    assert f"{cpr[:6]}-XXXX" in html
    english = client.get("/consent?lang=en").get_data(as_text=True)
    assert 'lang="en"' in english and "My consent" in english
    assert "Opt out of all secondary use" in english


def test_consent_form_changes_the_choice(client, citizen, session):
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    response = client.post("/consent/choices", data={
        "csrf_token": token, "purpose": PURPOSE, "target": "all", "decision": "deny"})
    assert response.status_code == 303
    page = client.get("/consent").get_data(as_text=True)
    assert "Dit valg for virksomheders forskning og produktudvikling er gemt." in page
    assert "Afvist for alle dataholdere" in page
    assert event_count(session) == 1


@pytest.mark.parametrize("form", [
    {"purpose": "reidentification", "target": "all", "decision": "permit"},
    {"purpose": PURPOSE, "target": "holder:abc", "decision": "permit"},
    {"purpose": PURPOSE, "target": "planet:3", "decision": "permit"},
    {"purpose": PURPOSE, "target": "holder:99999", "decision": "permit"},
    {"purpose": PURPOSE, "target": "all", "decision": "sometimes"},
])
def test_bad_form_input_is_explained_and_nothing_is_stored(client, citizen, session, form):
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    response = client.post("/consent/choices", data={"csrf_token": token, **form},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Valget blev ikke gemt" in response.get_data(as_text=True)
    assert event_count(session) == 0


def test_opt_out_form_and_history_page(client, citizen, session):
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    client.post("/consent/opt-out", data={"csrf_token": token, "action": "opt_out"})
    page = client.get("/consent").get_data(as_text=True)
    assert "Fortryd fravalget" in page
    client.post("/consent/opt-out", data={"csrf_token": token, "action": "withdraw"})
    history = client.get("/consent/history").get_data(as_text=True)
    assert "Fravalgt al sekundær brug" in history and "Fravalg fortrudt" in history


def test_parent_switches_to_the_child_and_back(client, citizen, session, keyring, headers):
    services.register_guardianships(session, keyring=keyring, guardian=citizen,
                                    child_cprs=[CHILD_CPR])
    session.commit()
    (child,) = client.get("/api/v1/me/wards").get_json()["children"]
    switched = client.put("/api/v1/me/acting-for", headers=headers,
                          data=json.dumps({"citizen_id": child["citizen_id"]}))
    assert switched.get_json() == {"acting_for_citizen_id": child["citizen_id"]}
    put_choice(client, headers, decision="deny")
    consents = client.get("/api/v1/me/consents").get_json()
    assert consents["citizen_id"] == child["citizen_id"]
    assert consents["choices"][0]["acted_by"] == "guardian"
    assert "Samtykke for" in client.get("/consent").get_data(as_text=True)
    client.put("/api/v1/me/acting-for", headers=headers, data=json.dumps({"citizen_id": None}))
    assert client.get("/api/v1/me/consents").get_json()["choices"] == []


@pytest.mark.parametrize("target", ["other-citizen", 987_654, "7", True])
def test_acting_for_someone_elses_child_is_forbidden(client, citizen, headers, make_citizen,
                                                     target):
    if target == "other-citizen":
        target = make_citizen(name="Fremmed")[0].id
    response = client.put("/api/v1/me/acting-for", headers=headers,
                          data=json.dumps({"citizen_id": target}))
    assert response.status_code in (403, 422)
    assert client.get("/api/v1/me/consents").get_json()["citizen_id"] == citizen.id


def test_operator_registers_a_guardianship_by_api(client, session, make_org, api_headers,
                                                  make_citizen, keyring):
    parent, parent_cpr = make_citizen(name="Forælder")
    operator = api_headers(make_org(kind="operator"), scopes="access:review")
    body = json.dumps({"guardian_cpr": parent_cpr, "child_cpr": CHILD_CPR})
    json_type = {"Content-Type": "application/json"}
    created = client.post("/api/v1/guardianships", headers={**operator, **json_type}, data=body)
    assert created.status_code == 201
    link = created.get_json()
    assert link["guardian_citizen_id"] == parent.id and link["source"] == "operator"
    assert not CPR_SHAPE.search(created.get_data(as_text=True))
    ended = client.delete(f"/api/v1/guardianships/{link['id']}", headers=operator)
    assert ended.status_code == 200 and ended.get_json()["ended_at"]
    company = api_headers(make_org(kind="company"), scopes="access:request")
    refused = client.post("/api/v1/guardianships", headers={**company, **json_type}, data=body)
    assert refused.status_code == 403
    bad = client.post("/api/v1/guardianships", headers={**operator, **json_type},
                      data=json.dumps({"guardian_cpr": parent_cpr, "child_cpr": "0101084321"}))
    assert bad.status_code == 422
    assert session.scalar(sa.select(sa.func.count()).select_from(Guardianship)) == 1


def test_no_cpr_reaches_the_logs(client, citizen, headers, caplog, keyring):
    cpr = identity.reveal_cpr(citizen, keyring=keyring)
    with caplog.at_level(logging.DEBUG):
        put_choice(client, headers, purpose=cpr)
        client.put("/api/v1/me/acting-for", headers=headers, data=json.dumps({"citizen_id": cpr}))
        client.get("/consent")
        client.get("/api/v1/me/consents/fhir")
    assert all(cpr not in record.getMessage() for record in caplog.records)


def test_an_idle_session_has_expired(client, citizen, headers, session):
    from datetime import timedelta

    from marketplace.identity.models import SignIn

    for sign_in in session.scalars(sa.select(SignIn)):
        sign_in.last_seen_at = utcnow() - timedelta(days=1)
    session.commit()
    assert client.get("/api/v1/me/consents").status_code == 401
    assert put_choice(client, headers).status_code in (400, 401, 403)
    assert event_count(session) == 0


def test_acting_for_ends_when_the_guardianship_ends(client, citizen, session, keyring, headers,
                                                    make_org, make_user):
    services.register_guardianships(session, keyring=keyring, guardian=citizen,
                                    child_cprs=[CHILD_CPR])
    session.commit()
    (child,) = client.get("/api/v1/me/wards").get_json()["children"]
    client.put("/api/v1/me/acting-for", headers=headers,
               data=json.dumps({"citizen_id": child["citizen_id"]}))
    operator = identity.staff_principal(make_user(make_org(kind="operator"), role="operator"))
    (link,) = session.scalars(sa.select(Guardianship)).all()
    services.end_guardianship(session, actor=operator, guardianship_id=link.id)
    session.commit()
    page = client.get("/consent").get_data(as_text=True)
    assert "Du handler nu for dig selv igen." in page and "Mit samtykke" in page
    assert client.get("/api/v1/me/consents").get_json()["citizen_id"] == citizen.id


def test_a_child_signed_in_alone_sees_but_cannot_change(client, make_citizen, login, session):
    login(make_citizen(cpr=CHILD_CPR, name="Oscar")[0])
    html = client.get("/consent").get_data(as_text=True)
    assert "Du er under 15 år" in html and "Fravælg al sekundær brug" not in html
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    refused = client.post("/consent/opt-out", data={"csrf_token": token, "action": "opt_out"})
    assert refused.status_code == 403
    assert event_count(session) == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"scope": {"type": "holder", "id": 2**31}, "purpose": PURPOSE, "decision": "deny"},
     "scope.id"),
    ({"scope": {"type": "holder", "id": "1"}, "purpose": PURPOSE, "decision": "deny"},
     "scope.id"),
    ({"scope": {"type": "all"}, "purpose": "public\u0000research", "decision": "deny"},
     "purpose"),
    ({"scope": {"type": "all"}, "purpose": PURPOSE, "decision": ["deny"]}, "decision"),
    ({"scope": {"type": "all"}, "purpose": PURPOSE, "decision": "deny", "extra": 1}, "extra"),
    ({"scope": {"type": "dataset"}, "purpose": PURPOSE, "decision": "deny"}, "scope.id"),
])
def test_hostile_choices_name_the_field_in_danish(client, citizen, headers, session, body,
                                                   field):
    response = client.put("/api/v1/me/consents", headers=headers, data=json.dumps(body))
    assert response.status_code == 422
    problem = response.get_json()
    assert field in {e["field"] for e in problem["errors"]}
    assert problem["title"] == "Ugyldigt input"
    assert event_count(session) == 0


def test_a_lone_surrogate_or_deep_nesting_is_a_clear_4xx(client, citizen, headers, session):
    lone = '{"scope": {"type": "all"}, "purpose": "\\ud800", "decision": "deny"}'
    deep = '{"scope": ' + "[" * 1000 + "]" * 1000 + ', "purpose": "x", "decision": "deny"}'
    for body in (lone, deep):
        response = client.put("/api/v1/me/consents", headers=headers, data=body)
        assert response.status_code in (400, 422)
        assert response.mimetype == "application/problem+json"
    assert event_count(session) == 0


def test_acting_for_a_huge_id_is_422(client, citizen, headers):
    response = client.put("/api/v1/me/acting-for", headers=headers,
                          data=json.dumps({"citizen_id": 2**31}))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "citizen_id"


def test_guardianship_ids_out_of_range_are_422(client, make_org, api_headers):
    operator = api_headers(make_org(kind="operator"), scopes="access:review")
    response = client.delete(f"/api/v1/guardianships/{2**31}", headers=operator)
    assert response.status_code == 422
    too_long = client.post("/api/v1/guardianships", headers=operator,
                           json={"guardian_cpr": "1" * 10_000, "child_cpr": "x"})
    assert too_long.status_code == 422
    assert "1" * 20 not in too_long.get_data(as_text=True)


def test_choice_errors_speak_english_on_request(client, citizen, headers):
    body = {"scope": {"type": "all"}, "purpose": "advertising_marketing", "decision": "permit"}
    english = client.put("/api/v1/me/consents?lang=en", headers=headers, data=json.dumps(body))
    assert {"field": "purpose", "message": "this use is prohibited and can never be permitted"
            } in english.get_json()["errors"]
    danish = client.put("/api/v1/me/consents?lang=da", headers=headers, data=json.dumps(body))
    assert {"field": "purpose", "message": "denne brug er forbudt og kan aldrig tillades"
            } in danish.get_json()["errors"]
