"""The workspace over HTTP: who sees it, dummy data, job submission, and every bad input."""
from __future__ import annotations

import io
from datetime import timedelta

import pyarrow.parquet as pq
import pytest

from marketplace.db import utcnow
from marketplace.workspace.models import WorkspaceJob


@pytest.fixture
def company(world, api_headers):
    return api_headers(world.company, "workspace:run")


def test_the_workspace_shows_datasets_environment_and_limits(client, world, company) -> None:
    permit = world.make_permit(pseudonymised=True)
    response = client.get(f"/api/v1/permits/{permit.id}/workspace", headers=company)
    assert response.status_code == 200
    body = response.get_json()
    assert body["permit_id"] == permit.id
    [dataset] = body["datasets"]
    assert dataset["id"] == world.dataset.id and dataset["rows"] == 600
    names = [c["name"] for c in dataset["columns"]]
    assert names[0] == "pseudonym" and "cpr" not in names and "name" not in names
    assert {"sex", "diagnosis", "admission_date"} <= set(names)
    assert body["environment"]["python"].startswith("3.")
    packages = body["environment"]["packages"]
    for package in ("pandas", "numpy", "pyarrow", "duckdb", "statsmodels", "scikit-learn",
                    "matplotlib", "acro"):
        assert packages[package]
    assert set(body["limits"]) >= {"cpu_seconds", "memory_mb", "wall_seconds"}
    assert body["jobs"] == []


def test_another_company_sees_neither_workspace_nor_job(client, session, world, company,
                                                        make_org, api_headers) -> None:
    permit = world.make_permit(pseudonymised=True)
    job_id = client.post(f"/api/v1/permits/{permit.id}/jobs", headers=company,
                         json={"name": "x", "script": "print(1)"}).get_json()["id"]
    rival = api_headers(make_org(kind="company", slug="rival"), "workspace:run")
    for method, url in (("get", f"/api/v1/permits/{permit.id}/workspace"),
                        ("get", f"/api/v1/permits/{permit.id}/workspace/dummy/"
                                f"{world.dataset.id}"),
                        ("post", f"/api/v1/permits/{permit.id}/jobs"),
                        ("get", f"/api/v1/jobs/{job_id}"),
                        ("post", f"/api/v1/jobs/{job_id}/cancel")):
        kwargs = {"json": {"name": "x", "script": "print(1)"}} if url.endswith("jobs") else {}
        response = getattr(client, method)(url, headers=rival, **kwargs)
        assert response.status_code == 404, url  # as if neither permit nor job existed
        assert response.mimetype == "application/problem+json"
    assert "print" not in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(WorkspaceJob, job_id).status == "queued"


def test_unknown_and_anonymised_permits(client, world, company) -> None:
    assert client.get("/api/v1/permits/999999/workspace", headers=company).status_code == 404
    anonymised = world.make_permit(pseudonymised=False)
    response = client.get(f"/api/v1/permits/{anonymised.id}/workspace", headers=company)
    assert response.status_code == 409
    expired = world.make_permit(pseudonymised=True, valid_for=timedelta(seconds=1),
                                approved_at=utcnow() - timedelta(days=1))
    response = client.post(f"/api/v1/permits/{expired.id}/jobs", headers=company,
                           json={"name": "x", "script": "print(1)"})
    assert response.status_code == 409 and "udløbet" in response.get_json()["detail"]


@pytest.mark.parametrize(("body", "field"), [
    ({"script": "print(1)"}, "name"),
    ({"name": "x"}, "script"),
    ({"name": "x", "script": ""}, "script"),
    ({"name": "", "script": "print(1)"}, "name"),
    ({"name": "x" * 201, "script": "print(1)"}, "name"),
    ({"name": "x", "script": "p" * 100_001}, "script"),
    ({"name": "Borger 010180-1234", "script": "print(1)"}, "name"),
    ({"name": "x", "script": "print(1)", "sudo": True}, "sudo"),
    ({"name": ["x"], "script": "print(1)"}, "name"),
    ({"name": "x", "script": "print(1)\x00"}, "script"),
    ({"name": "a\x00b", "script": "print(1)"}, "name"),
    ({"name": "x", "script": "print('\ud800')"}, "script"),
])
def test_bad_job_bodies_are_422_in_the_callers_language(client, session, world, company, body,
                                                        field) -> None:
    permit = world.make_permit(pseudonymised=True)
    response = client.post(f"/api/v1/permits/{permit.id}/jobs", headers=company, json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in [e["field"] for e in response.get_json()["errors"]]
    english = client.post(f"/api/v1/permits/{permit.id}/jobs?lang=en", json=body,
                          headers={**company, "Accept-Language": "en"})
    assert english.status_code == 422
    assert session.query(WorkspaceJob).count() == 0


def test_running_needs_the_scope_and_a_token(client, world, api_headers) -> None:
    permit = world.make_permit(pseudonymised=True)
    body = {"name": "x", "script": "print(1)"}
    assert client.post(f"/api/v1/permits/{permit.id}/jobs", json=body).status_code == 401
    reader = api_headers(world.company, "access:request")
    assert client.post(f"/api/v1/permits/{permit.id}/jobs", json=body,
                       headers=reader).status_code == 403
    assert client.post("/api/v1/permits/0/jobs", json=body, headers=reader).status_code == 422
    assert client.get("/api/v1/jobs/abc", headers=reader).status_code == 404


def test_dummy_data_has_the_permits_columns_and_is_marked_synthetic(client, world,
                                                                     company) -> None:
    permit = world.make_permit(pseudonymised=True)
    url = f"/api/v1/permits/{permit.id}/workspace/dummy/{world.dataset.id}"
    response = client.get(url, headers=company)
    assert response.status_code == 200 and response.headers["X-Synthetic"] == "true"
    assert "synthetic" in response.headers["Content-Disposition"]
    table = pq.read_table(io.BytesIO(response.data))
    assert b"_synthetic" in table.schema.metadata
    frame = table.to_pandas()
    workspace = client.get(f"/api/v1/permits/{permit.id}/workspace", headers=company)
    assert list(frame.columns) == [c["name"] for c in
                                   workspace.get_json()["datasets"][0]["columns"]]
    assert frame["pseudonym"].str.fullmatch(r"[a-p]{24}").all()
    assert frame["pseudonym"].nunique() < len(frame)  # several rows per person
    assert set(frame["sex"]) <= {"male", "female"}
    assert frame["diagnosis"].str.match(r"^D[A-Z]\d").all()
    # Never real rows: no real person's admission shows up.
    assert not set(world.data["name"]) & set(frame.astype(str).stack())
    csv = client.get(url + "?format=csv", headers=company)
    assert csv.status_code == 200 and csv.data.startswith(b"# SYNTETISKE DATA")
    bad = client.get(url + "?format=xlsx", headers=company)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "format"
    other = client.get(f"/api/v1/permits/{permit.id}/workspace/dummy/999999", headers=company)
    assert other.status_code == 404


def test_the_page_in_danish_and_english_and_the_browser_upload(client, session, world, login,
                                                               make_user) -> None:
    permit = world.make_permit(pseudonymised=True)
    login(world.company_user)
    page = client.get(f"/workspace/{permit.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Sikkert analysemiljø" in text and f"/data/{world.dataset.id}.parquet" in text
    assert 'name="csrf_token"' in text and "pandas" in text
    assert "Secure processing environment" in client.get(
        f"/workspace/{permit.id}?lang=en").get_data(as_text=True)
    # Without the CSRF token the form is refused and nothing is queued.
    refused = client.post(f"/workspace/{permit.id}/jobs?lang=da",
                          data={"name": "x", "script": "print(1)"})
    assert refused.status_code in (400, 403)
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    upload = client.post(f"/workspace/{permit.id}/jobs", data={
        "csrf_token": token, "name": "Fra fil",
        "script_file": (io.BytesIO(b"print('fra fil')"), "analyse.py")},
        content_type="multipart/form-data")
    assert upload.status_code == 302
    job = session.query(WorkspaceJob).one()
    assert job.script == "print('fra fil')" and job.name == "Fra fil"
    bad = client.post(f"/workspace/{permit.id}/jobs", data={
        "csrf_token": token, "name": "Binær",
        "script_file": (io.BytesIO(b"\xff\xfe\x00"), "x.py")},
        content_type="multipart/form-data", headers={"Accept": "text/html"})
    assert bad.status_code == 422
    assert session.query(WorkspaceJob).count() == 1


def test_a_holder_sees_no_workspace_page(client, world, login, make_user) -> None:
    permit = world.make_permit(pseudonymised=True)
    login(make_user(world.holder, role="holder_admin"))
    assert client.get(f"/workspace/{permit.id}").status_code == 403


def test_the_workspace_list_shows_only_the_companys_record_level_permits(
        client, world, login, make_org) -> None:
    mine = world.make_permit(pseudonymised=True)
    anonymised = world.make_permit(pseudonymised=False)
    theirs = world.make_permit(pseudonymised=True,
                               company_org=make_org(kind="company", slug="other-co"))
    login(world.company_user)
    page = client.get("/workspace").get_data(as_text=True)
    assert f'href="/workspace/{mine.id}"' in page
    assert f'href="/workspace/{anonymised.id}"' not in page
    assert f'href="/workspace/{theirs.id}"' not in page
    assert 'href="/workspace"' in page  # in the navigation


def test_pages_refuse_other_companies_and_unknown_permits(client, session, world, login,
                                                          make_org, make_user) -> None:
    permit = world.make_permit(pseudonymised=True)
    from marketplace.db import utcnow as now
    from marketplace.workspace import services

    job = services.submit_job(session, actor=world.company_actor, permit_id=permit.id,
                              name="x", script="print(1)", now=now())
    session.commit()
    login(make_user(make_org(kind="company", slug="page-rival"), role="company_member"))
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    html = {"Accept": "text/html"}
    assert client.get(f"/workspace/{permit.id}", headers=html).status_code == 404
    assert client.get("/workspace/999999", headers=html).status_code == 404
    refused = client.post(f"/workspace/jobs/{job.id}/cancel", data={"csrf_token": token},
                          headers=html)
    assert refused.status_code == 404 and "<html" in refused.get_data(as_text=True).lower()
    refused = client.post(f"/workspace/{permit.id}/jobs", headers=html,
                          data={"csrf_token": token, "name": "x", "script": "print(2)"})
    assert refused.status_code == 404
    session.expire_all()
    assert session.get(WorkspaceJob, job.id).status == "queued"
    assert session.query(WorkspaceJob).count() == 1


def test_the_operator_reads_a_workspace_but_runs_nothing(client, session, world, login,
                                                          make_org, make_user) -> None:
    permit = world.make_permit(pseudonymised=True)
    login(make_user(make_org(kind="operator", slug="ops"), role="operator"))
    assert client.get(f"/api/v1/permits/{permit.id}/workspace").status_code == 200
    page = client.get(f"/workspace/{permit.id}").get_data(as_text=True)
    assert "Kør scriptet" not in page
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    refused = client.post(f"/api/v1/permits/{permit.id}/jobs", headers={"X-CSRF-Token": token},
                          json={"name": "x", "script": "print(1)"})
    assert refused.status_code == 403
    assert session.query(WorkspaceJob).count() == 0
