"""The extract API and pages, as a company's program and a company's staff use them."""
from __future__ import annotations

import base64
import io
import json

import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from marketplace.delivery import output


@pytest.fixture
def company_headers(world, api_headers):
    return api_headers(world.company, scopes="access:request")


def _order(client, permit, headers, **body):
    return client.post(f"/api/v1/permits/{permit.id}/extracts", json=body, headers=headers)


def test_api_flow_from_request_to_verified_download(client, world, company_headers, build):
    permit = world.make_permit()
    response = _order(client, permit, company_headers)
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "queued" and isinstance(body["id"], int)
    assert response.headers["Location"].endswith(f"/api/v1/extracts/{body['id']}")
    build(body["id"])
    status = client.get(f"/api/v1/extracts/{body['id']}", headers=company_headers).get_json()
    assert status["status"] == "succeeded" and status["progress"] == 1
    manifest = client.get(f"/api/v1/extracts/{body['id']}/manifest",
                          headers=company_headers).get_json()
    assert set(manifest) == set(output.MANIFEST_FIELDS)
    assert manifest == status["manifest"]
    key = client.get("/.well-known/marketplace-signing-key").get_json()
    assert key["public_key"] == manifest["public_key"]
    Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"])).verify(
        base64.b64decode(manifest["signature"]),
        json.dumps({k: v for k, v in manifest.items() if k != "signature"}, sort_keys=True,
                   separators=(",", ":")).encode())
    data = client.get(f"/api/v1/extracts/{body['id']}/data?format=parquet",
                      headers=company_headers)
    assert data.status_code == 200
    assert data.mimetype == "application/vnd.apache.parquet"
    import hashlib

    assert hashlib.sha256(data.data).hexdigest() == manifest["sha256"]
    assert data.headers["X-Content-SHA256"] == manifest["sha256"]
    frame = pd.read_parquet(io.BytesIO(data.data))
    assert len(frame) == manifest["rows_out"]
    csv = client.get(f"/api/v1/extracts/{body['id']}/data?format=csv", headers=company_headers)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.headers["X-Content-SHA256"] == manifest["csv_sha256"]
    assert hashlib.sha256(csv.data).hexdigest() == manifest["csv_sha256"]
    assert csv.data.decode().splitlines()[0].startswith("pseudonym,")


def test_the_list_shows_only_the_company_extracts(client, world, company_headers):
    _order(client, world.make_permit(), company_headers)
    items = client.get("/api/v1/extracts", headers=company_headers).get_json()["items"]
    assert len(items) == 1 and items[0]["status"] == "queued"


@pytest.mark.parametrize("body, status", [
    (b"{not json", 400),
    (b"[1, 2]", 422),
    (b'{"dataset_id": "many"}', 422),
    (b'{"dataset_id": 999999}', 422),
    (b'{"dataset_id": true}', 422),
])
def test_bad_requests_get_a_problem_and_store_nothing(client, world, company_headers, body,
                                                      status):
    permit = world.make_permit()
    response = client.post(f"/api/v1/permits/{permit.id}/extracts", data=body,
                           headers={**company_headers, "Content-Type": "application/json"})
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert client.get("/api/v1/extracts", headers=company_headers).get_json()["items"] == []


def test_no_token_is_401_and_another_company_is_404(client, world, api_headers, make_org,
                                                    company_headers):
    permit = world.make_permit()
    assert client.post(f"/api/v1/permits/{permit.id}/extracts", json={}).status_code == 401
    other = api_headers(make_org(kind="company"), scopes="access:request")
    response = _order(client, permit, other)
    assert response.status_code == 404
    extract_id = _order(client, permit, company_headers).get_json()["id"]
    assert client.get(f"/api/v1/extracts/{extract_id}", headers=other).status_code == 404
    assert client.get(f"/api/v1/extracts/{extract_id}/data", headers=other).status_code == 404


def test_an_unknown_permit_is_404_and_an_expired_one_409(client, world, company_headers):
    from datetime import timedelta

    from marketplace.db import utcnow

    assert _order(client, type("P", (), {"id": 999999})(), company_headers).status_code == 404
    expired = world.make_permit(approved_at=utcnow() - timedelta(days=5),
                                valid_for=timedelta(days=1))
    response = _order(client, expired, company_headers)
    assert response.status_code == 409
    assert response.get_json()["detail"] == "tilladelsen er udløbet"


def test_download_before_it_is_ready_is_409_and_bad_format_422(client, world, company_headers,
                                                              build):
    extract_id = _order(client, world.make_permit(), company_headers).get_json()["id"]
    assert client.get(f"/api/v1/extracts/{extract_id}/data",
                      headers=company_headers).status_code == 409
    build(extract_id)
    response = client.get(f"/api/v1/extracts/{extract_id}/data?format=xlsx",
                          headers=company_headers)
    assert response.status_code == 422


def test_a_failed_extract_can_be_retried(client, world, company_headers, build, session):
    permit = world.make_permit()
    extract_id = _order(client, permit, company_headers).get_json()["id"]
    assert client.post(f"/api/v1/extracts/{extract_id}/retry",
                       headers=company_headers).status_code == 409
    from marketplace.delivery import services

    services.fail_extract(session, extract_id=extract_id, message="stopped", now=permit.approved_at)
    session.commit()
    retried = client.post(f"/api/v1/extracts/{extract_id}/retry", headers=company_headers)
    assert retried.status_code == 202 and retried.get_json()["status"] == "queued"
    assert build(extract_id).status == "succeeded"


def test_the_extract_pages_let_staff_order_and_follow_an_extract(client, world, login, build):
    permit = world.make_permit()
    login(world.company_user)
    page = client.get("/extracts")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Bestil udtræk" in html and f"Tilladelse nr. {permit.id}" in html
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    ordered = client.post("/extracts", data={"csrf_token": token, "permit_id": permit.id,
                                             "dataset_id": world.dataset.id})
    assert ordered.status_code == 302
    extract_id = int(ordered.headers["Location"].rsplit("/", 1)[1])
    waiting = client.get(f"/extracts/{extract_id}").get_data(as_text=True)
    assert "I kø" in waiting and "<progress" in waiting and "delivery.js" in waiting
    build(extract_id)
    done = client.get(f"/extracts/{extract_id}?lang=en").get_data(as_text=True)
    assert "Download as Parquet" in done and "Rows out" in done


def test_the_order_form_needs_its_csrf_token(client, world, login):
    permit = world.make_permit()
    login(world.company_user)
    response = client.post("/extracts", data={"permit_id": permit.id})
    assert response.status_code in (400, 403)


def test_the_extract_page_needs_a_signed_in_staff_member(client, world):
    response = client.get("/extracts")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_record_level_data_is_neither_ordered_nor_downloaded_but_analysed_in_the_workspace(
        client, session, world, company_headers, build):
    permit = world.make_permit(pseudonymised=True)
    refused = _order(client, permit, company_headers)
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert f"/workspace/{permit.id}" in refused.get_json()["detail"]
    # An extract built before the rule (anonymised permit turned record-level) stays inside.
    earlier = world.make_permit()
    extract_id = _order(client, earlier, company_headers).get_json()["id"]
    build(extract_id)
    earlier.pseudonymised = True
    session.commit()
    for fmt in ("parquet", "csv"):
        response = client.get(f"/api/v1/extracts/{extract_id}/data?format={fmt}",
                              headers=company_headers)
        assert response.status_code == 409
        assert f"/workspace/{earlier.id}" in response.get_json()["detail"]
        assert b"PAR1" not in response.data


def test_the_extracts_page_points_record_level_permits_to_the_workspace(client, world, login):
    permit = world.make_permit(pseudonymised=True)
    login(world.company_user)
    page = client.get("/extracts").get_data(as_text=True)
    assert f'href="/workspace/{permit.id}"' in page


def test_an_extract_page_of_record_level_data_links_the_workspace_not_downloads(
        client, session, world, company_headers, build, login):
    permit = world.make_permit()
    extract_id = _order(client, permit, company_headers).get_json()["id"]
    build(extract_id)
    permit.pseudonymised = True
    session.commit()
    login(world.company_user)
    page = client.get(f"/extracts/{extract_id}").get_data(as_text=True)
    assert f'href="/workspace/{permit.id}"' in page and "format=parquet" not in page


def test_openapi_documents_the_queued_extract_and_the_download(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    order = paths["/api/v1/permits/{permit_id}/extracts"]["post"]
    assert "202" in order["responses"] and "200" not in order["responses"]
    assert order["requestBody"]["required"] is False
    download = paths["/api/v1/extracts/{extract_id}/data"]["get"]
    assert set(download["responses"]["200"]["content"]) == {"application/vnd.apache.parquet",
                                                            "text/csv"}
    assert {p["name"] for p in download["parameters"]} >= {"extract_id", "format"}


def test_the_operator_cannot_order_an_extract_on_a_company_permit(client, world, login,
                                                                  csrf_headers, make_org,
                                                                  make_user, company_headers):
    permit = world.make_permit()
    login(make_user(make_org(kind="operator"), role="operator"))
    response = _order(client, permit, csrf_headers())
    assert response.status_code == 403
    assert "kun virksomheden med tilladelsen" in response.get_json()["detail"]
    # Nothing appears in the company's list as if it had ordered it.
    listed = client.get("/api/v1/extracts", headers=company_headers).get_json()
    assert listed["items"] == []
