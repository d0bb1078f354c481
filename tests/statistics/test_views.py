"""The statistics API as companies use it: feasibility counts and statistics requests."""
from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from marketplace.audit import AuditEntry
from marketplace.consent import services as consent_services
from marketplace.db import utcnow
from marketplace.delivery import output
from marketplace.identity import services as identity_services
from marketplace.statistics.models import StatisticsPolicy, StatisticsRequest


def ask(**changes):
    body = {"title": "Indlæggelser pr. køn", "purpose": "company_research",
            "description": "Basislinje til et indkøb.", "measures": [{"kind": "count_persons"}],
            "group_by": ["sex"], "cohort": {}, "method": "sdc"}
    body.update(changes)
    return body


def stored(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(StatisticsRequest))


# --- feasibility ---------------------------------------------------------------------------

def test_feasibility_counts_persons_after_consent_rounded(client, session, world,
                                                          company_headers, make_citizen):
    everyone = world.data["cpr"].nunique()
    response = client.post("/api/v1/feasibility", headers=company_headers,
                           json={"datasets": [world.dataset.id]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body == {"persons": 5 * round(everyone / 5), "rounded_to": 5, "suppressed": False,
                    "threshold": 5}
    # Opt-outs leave the count exactly as they leave an extract.
    for cpr in world.data["cpr"].drop_duplicates().iloc[:3]:
        citizen, _ = make_citizen(cpr=str(cpr))
        consent_services.set_opt_out(session, actor=identity_services.citizen_principal(citizen),
                                     opted_out=True, now=utcnow() - timedelta(seconds=5))
    session.commit()
    after = client.post("/api/v1/feasibility", headers=company_headers,
                        json={"datasets": [world.dataset.id]}).get_json()
    assert after["persons"] == 5 * round((everyone - 3) / 5)


def test_feasibility_filters_the_cohort_and_hides_small_counts(client, world, company_headers):
    women = world.data.loc[world.data["sex"] == "female", "cpr"].nunique()
    response = client.post("/api/v1/feasibility", headers=company_headers, json={
        "datasets": [world.dataset.id], "cohort": {"sex": ["female"]}})
    assert response.get_json()["persons"] == 5 * round(women / 5)
    one = world.data.iloc[0]
    tiny = client.post("/api/v1/feasibility", headers=company_headers, json={
        "datasets": [world.dataset.id],
        "cohort": {"period": {"start": one["admission_date"], "end": one["admission_date"]},
                   "diagnoses": [one["diagnosis"]], "sex": [one["sex"]]}})
    assert tiny.status_code == 200
    assert tiny.get_json() == {"persons": None, "rounded_to": 5, "suppressed": True,
                               "threshold": 5}


@pytest.mark.parametrize("body, field", [
    ({"datasets": []}, "datasets"),
    ({"datasets": ["x"]}, "datasets[0]"),
    ({"datasets": [1], "cohort": {"age": [70, 20]}}, "cohort"),
    ({"datasets": [1], "cohort": {"shoe_size": 44}}, "cohort.shoe_size"),
    ({"datasets": [1], "cohort": {"municipalities": ["<script>"]}}, "cohort.municipalities[0]"),
    ({"datasets": [999_999]}, "datasets[0]"),
    ({"datasets": [1], "purpose": "no_such_purpose"}, "purpose"),
])
def test_feasibility_refuses_bad_input_clearly(client, world, company_headers, body, field):
    if body.get("datasets") == [1]:
        body = {**body, "datasets": [world.dataset.id]}
    response = client.post("/api/v1/feasibility", headers=company_headers, json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in [e["field"] for e in response.get_json()["errors"]]


def test_feasibility_needs_a_signed_in_organisation(client, world, api_headers):
    assert client.post("/api/v1/feasibility",
                       json={"datasets": [world.dataset.id]}).status_code == 401
    other = api_headers(world.holder, scopes="catalog:write")
    assert client.post("/api/v1/feasibility", headers=other,
                       json={"datasets": [world.dataset.id]}).status_code == 403


def test_feasibility_works_for_a_signed_in_company_member(client, world, login, csrf_headers):
    login(world.company_user)
    response = client.post("/api/v1/feasibility", headers=csrf_headers(),
                           json={"datasets": [world.dataset.id]})
    assert response.status_code == 200
    assert response.get_json()["persons"] > 0


# --- statistics requests -----------------------------------------------------------------

def test_a_statistics_request_is_answered_at_once_with_a_protected_table(
        client, session, world, company_headers):
    response = client.post("/api/v1/statistics-requests", headers=company_headers, json=ask(
        dataset=world.dataset.id, group_by=["sex", "age_band"],
        measures=[{"kind": "count_persons"}, {"kind": "count_rows"},
                  {"kind": "mean", "column": "length_of_stay"}]))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "released"
    assert body["decision"]["outcome"] == "permit"
    result = body["result"]
    assert result["columns"] == ["sex", "age_band", "count_persons", "count_rows",
                                 "mean_length_of_stay"]
    assert result["rules"] == {"threshold": 5, "rounding": 5, "secondary_suppression": True}
    persons = world.data.groupby("sex", observed=True)["cpr"].nunique()
    margins = {row[0]: row[2] for row in result["rows"] if row[0] and row[1] is None}
    for sex, count in persons.items():
        assert margins[sex] == 5 * round(count / 5)
    total = [row for row in result["rows"] if row[0] is None and row[1] is None]
    assert total[0][2] == 5 * round(world.data["cpr"].nunique() / 5)
    for row in result["rows"]:
        if row[2] is not None:
            assert row[2] % 5 == 0 and row[3] % 5 == 0
        else:
            assert row[3] is None and row[4] is None
    assert result["suppressed_cells"] == sum(row[2] is None for row in result["rows"])
    # The answer is stored, visible to its company, and on the audit chain.
    again = client.get(f"/api/v1/statistics-requests/{body['id']}", headers=company_headers)
    assert again.status_code == 200 and again.get_json()["result"] == result
    actions = session.scalars(sa.select(AuditEntry.action).where(
        AuditEntry.subject_type == "statistics_request")).all()
    assert {"statistics_request.decided", "statistics_request.released"} <= set(actions)


def test_no_suppressed_cell_can_be_recovered_from_its_row_or_margin(client, world,
                                                                    company_headers):
    body = client.post("/api/v1/statistics-requests", headers=company_headers, json=ask(
        dataset=world.dataset.id, group_by=["sex", "diagnosis", "age_band"])).get_json()
    rows = body["result"]["rows"]
    assert body["result"]["suppressed_cells"] > 0
    lines: dict = {}
    for row in rows:
        for d in range(3):
            key = (d, tuple(v for i, v in enumerate(row[:3]) if i != d))
            lines.setdefault(key, []).append(row[3])
    for values in lines.values():
        if len(values) > 1:
            assert sum(v is None for v in values) != 1


def test_the_csv_and_its_signed_manifest_match(client, world, company_headers):
    created = client.post("/api/v1/statistics-requests", headers=company_headers, json=ask(
        dataset=world.dataset.id, group_by=["region"])).get_json()
    csv = client.get(f"/api/v1/statistics-requests/{created['id']}/result?format=csv",
                     headers=company_headers)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    digest = hashlib.sha256(csv.data).hexdigest()
    assert csv.headers["X-Content-SHA256"] == digest
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0] == "region,count_persons"
    assert lines[-1].startswith("Total,")
    manifest = client.get(f"/api/v1/statistics-requests/{created['id']}/manifest",
                          headers=company_headers).get_json()
    assert manifest["sha256"] == digest
    pinned = client.get("/.well-known/marketplace-signing-key").get_json()["public_key"]
    assert output.verify_manifest(manifest, public_key_b64=pinned)
    tampered = {**manifest, "cells": manifest["cells"] + 1}
    assert not output.verify_manifest(tampered, public_key_b64=pinned)
    as_json = client.get(f"/api/v1/statistics-requests/{created['id']}/result",
                         headers=company_headers).get_json()
    assert as_json["rows"] == created["result"]["rows"]
    assert base64.b64decode(manifest["signature"])


def test_released_statistics_appear_in_the_public_register(client, world, company_headers):
    created = client.post("/api/v1/statistics-requests", headers=company_headers,
                          json=ask(dataset=world.dataset.id)).get_json()
    register = client.get("/api/v1/statistics-register").get_json()["items"]
    entry = next(item for item in register if item["id"] == created["id"])
    assert entry["company"] == "Statistik ApS" and entry["dataset"] == world.dataset.id


@pytest.mark.parametrize("changes, field", [
    ({"group_by": ["shoe_size"]}, "group_by[0]"),
    ({"group_by": ["cpr"]}, "group_by[0]"),
    ({"group_by": ["name"]}, "group_by[0]"),
    ({"measures": [{"kind": "mean", "column": "no_such"}]}, "measures[0].column"),
    ({"measures": [{"kind": "mean", "column": "sex"}]}, "measures[0].column"),
    ({"measures": [{"kind": "variance"}]}, "measures[0].kind"),
    ({"measures": [{"kind": "mean"}]}, "measures[0]"),
    ({"measures": []}, "measures"),
    ({"group_by": ["sex; DROP TABLE dataset"]}, "group_by[0]"),
    ({"title": "x" * 201}, "title"),
    ({"description": "Borger 010203-1234 er med"}, "description"),
    ({"method": "magic"}, "method"),
    ({"epsilon": 1.0}, ""),
    ({"dataset": 0}, "dataset"),
    ({"purpose": "no_such_purpose"}, "purpose"),
    ({"unexpected": True}, "unexpected"),
])
def test_bad_statistics_requests_are_refused_and_change_nothing(
        client, session, world, company_headers, changes, field):
    before = stored(session)
    response = client.post("/api/v1/statistics-requests", headers=company_headers,
                           json=ask(**{"dataset": world.dataset.id, **changes}))
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert field in [e["field"] for e in problem["errors"]]
    assert stored(session) == before


def test_a_grouping_of_more_than_ten_thousand_cells_is_refused(client, session, world,
                                                               company_headers):
    response = client.post("/api/v1/statistics-requests", headers=company_headers, json=ask(
        dataset=world.dataset.id, group_by=["birth_date", "admission_date"]))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "group_by"
    assert "10000" in response.get_json()["errors"][0]["message"]
    assert stored(session) == 0


def test_errors_come_in_the_callers_language(client, world, company_headers):
    response = client.post("/api/v1/statistics-requests?lang=en", headers=company_headers,
                           json=ask(dataset=world.dataset.id, group_by=["shoe_size"]))
    assert response.get_json()["errors"][0]["message"] == (
        "cannot group by 'shoe_size': no such column or derived group in the dataset")
    danish = client.post("/api/v1/statistics-requests?lang=da", headers=company_headers,
                         json=ask(dataset=world.dataset.id, group_by=["shoe_size"]))
    assert danish.get_json()["errors"][0]["message"].startswith("kan ikke grupperes efter")


def test_a_cohort_of_one_person_is_denied_with_its_reason(client, session, world,
                                                         company_headers):
    one = world.data.iloc[0]
    response = client.post("/api/v1/statistics-requests", headers=company_headers, json=ask(
        dataset=world.dataset.id, cohort={
            "period": {"start": one["admission_date"], "end": one["admission_date"]},
            "diagnoses": [one["diagnosis"]], "sex": [one["sex"]]}))
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "denied" and "result" not in body
    assert [r["rule"] for r in body["decision"]["reasons"]] == ["cohort.below_k_min"]
    result = client.get(f"/api/v1/statistics-requests/{body['id']}/result",
                        headers=company_headers)
    assert result.status_code == 409


def test_a_prohibited_purpose_is_denied_and_nothing_is_computed(client, world,
                                                               company_headers):
    response = client.post("/api/v1/statistics-requests?lang=en", headers=company_headers,
                           json=ask(dataset=world.dataset.id, purpose="advertising_marketing"))
    body = response.get_json()
    assert body["status"] == "denied" and "result" not in body
    reasons = body["decision"]["reasons"]
    assert reasons[0]["rule"] == "prohibited.advertising_marketing"
    assert "Art. 54(c)" in reasons[0]["message"]


def test_a_rule_that_asks_for_review_holds_the_table_back(client, world, company_headers):
    sensitive = world.publish(world.data.to_csv(index=False), access_rights="NON_PUBLIC")
    body = client.post("/api/v1/statistics-requests", headers=company_headers,
                       json=ask(dataset=sensitive.id)).get_json()
    assert body["status"] == "review" and "result" not in body
    assert body["decision"]["reasons"][0]["rule"] == "review.commercial_sensitive"


def test_another_company_cannot_read_a_request(client, world, company_headers, make_org,
                                               api_headers):
    created = client.post("/api/v1/statistics-requests", headers=company_headers,
                          json=ask(dataset=world.dataset.id)).get_json()
    rival = api_headers(make_org(kind="company"), scopes="statistics:request")
    for path in ("", "/result", "/result?format=csv", "/manifest"):
        response = client.get(f"/api/v1/statistics-requests/{created['id']}{path}",
                              headers=rival)
        assert response.status_code == 404, path
        assert "rows" not in response.get_data(as_text=True)
    assert client.get("/api/v1/statistics-requests", headers=rival).get_json()["total"] == 0


def test_nested_cohorts_cannot_difference_out_a_small_group(client, session, world,
                                                            company_headers):
    """The attack: ask for everyone, then for everyone but one narrow group; the difference
    of the two totals would be the narrow group's size."""
    one = world.data.iloc[0]
    oldest = pd.to_datetime(world.data["birth_date"]).min()
    first = client.post("/api/v1/statistics-requests", headers=company_headers,
                        json=ask(dataset=world.dataset.id, group_by=["sex"],
                                 cohort={"age": [0, 130]}))
    assert first.get_json()["status"] == "released"
    age_of_oldest = (utcnow().date() - oldest.date()).days // 365
    before = stored(session)
    second = client.post("/api/v1/statistics-requests", headers=company_headers,
                         json=ask(dataset=world.dataset.id, group_by=["sex"],
                                  cohort={"age": [0, age_of_oldest - 1]}))
    assert second.status_code == 422, second.get_json()
    error = second.get_json()["errors"][0]
    assert error["field"] == "cohort"
    assert str(first.get_json()["id"]) in error["message"]
    assert stored(session) == before
    # A cohort far from the first (many persons apart in every margin) is answered.
    women = client.post("/api/v1/statistics-requests", headers=company_headers,
                        json=ask(dataset=world.dataset.id, group_by=["sex"],
                                 cohort={"sex": ["female"]}))
    assert women.get_json()["status"] == "released", women.get_json()
    del one


def test_differential_privacy_spends_the_datasets_budget_until_it_is_gone(
        client, session, world, company_headers):
    body = ask(dataset=world.dataset.id, method="dp", epsilon=2.0, group_by=["sex"],
               measures=[{"kind": "count_persons"}])
    first = client.post("/api/v1/statistics-requests", headers=company_headers, json=body)
    assert first.status_code == 201, first.get_json()
    result = first.get_json()["result"]
    assert result["rules"]["epsilon"] == 2.0 and result["rules"]["secondary_suppression"] is False
    assert {row[0] for row in result["rows"]} == {"female", "male", None}
    client.post("/api/v1/statistics-requests", headers=company_headers, json=body)
    spent = session.get(StatisticsPolicy, world.dataset.id)
    session.refresh(spent)
    assert spent.epsilon_spent == pytest.approx(4.0)
    before = stored(session)
    refused = client.post("/api/v1/statistics-requests", headers=company_headers, json=body)
    assert refused.status_code == 409
    assert "privatlivsbudget" in refused.get_json()["detail"]
    assert stored(session) == before
    session.refresh(spent)
    assert spent.epsilon_spent == pytest.approx(4.0)
    means = client.post("/api/v1/statistics-requests", headers=company_headers, json=ask(
        dataset=world.dataset.id, method="dp", measures=[{"kind": "mean",
                                                          "column": "length_of_stay"}]))
    assert means.status_code == 422


def test_statistics_requests_need_the_scope(client, world, api_headers):
    holder_reader = api_headers(world.company, scopes="access:request")
    response = client.post("/api/v1/statistics-requests", headers=holder_reader,
                           json=ask(dataset=world.dataset.id))
    assert response.status_code == 403
    assert client.post("/api/v1/statistics-requests",
                       json=ask(dataset=world.dataset.id)).status_code == 401


def test_a_dataset_limited_to_diseases_needs_the_question_to_name_them(client, world,
                                                                      company_headers):
    limited = world.publish(world.data.to_csv(index=False),
                            data_use={"permission": "DS", "diseases": ["DJ44"], "modifiers": []})
    unnamed = client.post("/api/v1/statistics-requests", headers=company_headers,
                          json=ask(dataset=limited.id)).get_json()
    assert unnamed["status"] == "denied"
    assert unnamed["decision"]["reasons"][0]["rule"] == "duo.ds_requires_disease"
    named = client.post("/api/v1/statistics-requests", headers=company_headers,
                        json=ask(dataset=limited.id, diseases=["DJ441"])).get_json()
    assert named["status"] == "released", named["decision"]


def test_released_statistics_are_listed_on_the_register_page(client, world, company_headers):
    empty = client.get("/register").get_data(as_text=True)
    assert "Der er endnu ikke udleveret nogen statistik." in empty
    created = client.post("/api/v1/statistics-requests", headers=company_headers, json=ask(
        dataset=world.dataset.id, title="Indlæggelser i Albertslund")).get_json()
    denied = client.post("/api/v1/statistics-requests", headers=company_headers, json=ask(
        dataset=world.dataset.id, title="Reklame for piller",
        purpose="advertising_marketing")).get_json()
    assert created["status"] == "released" and denied["status"] == "denied"
    html = client.get("/register").get_data(as_text=True)
    assert "Indlæggelser i Albertslund" in html and "Statistik ApS" in html
    assert "Reklame for piller" not in html
    english = client.get("/register?lang=en").get_data(as_text=True)
    assert "Anonymous statistics delivered to companies" in english
