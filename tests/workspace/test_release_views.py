"""The release API and pages over HTTP: the checkers' queue, reviews, downloads and manifests,
output rules, and every kind of bad input answered with a clear 4xx in the caller's language."""
from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from marketplace.workspace import release
from tests.workspace import release_world as fixtures
from tests.workspace.release_world import SAFE_TABLE, SMALL_CELLS

release_world = fixtures.release_world

HUGE = 2**31


@pytest.fixture
def as_user(client, login, csrf_headers):
    """Sign the client in as `user` and return the CSRF headers of that session."""

    def sign_in(user):
        login(user)
        return csrf_headers()

    return sign_in


def _review(client, headers, output_id, body, lang=""):
    suffix = f"?lang={lang}" if lang else ""
    return client.post(f"/api/v1/outputs/{output_id}/reviews{suffix}", json=body,
                       headers=headers)


def test_two_checkers_release_and_the_company_downloads_a_verifiable_file(
        client, release_world, as_user):
    world = release_world
    output = world.make_output(justification="Antal pr. køn til artiklens tabel 1.")
    headers = as_user(world.checker_a)
    queue = client.get("/api/v1/output-reviews").get_json()
    assert [item["id"] for item in queue["items"]] == [output.id]
    assert queue["items"][0]["working_days_left"] >= 3
    assert queue["target_working_days"] == 5
    first = _review(client, headers, output.id, {"decision": "approve"})
    assert first.status_code == 201, first.get_data(as_text=True)
    assert first.get_json()["status"] == "pending_review"
    assert first.get_json()["approvals"] == 1

    headers = as_user(world.company_user)
    assert client.get(f"/api/v1/outputs/{output.id}/data").status_code == 409
    assert client.get(f"/api/v1/outputs/{output.id}/manifest").status_code == 409
    shown = client.get(f"/api/v1/outputs/{output.id}").get_json()
    assert shown["status"] == "pending_review" and shown["due_at"]

    headers = as_user(world.checker_b)
    second = _review(client, headers, output.id, {"decision": "approve", "comment": "Ok."})
    assert second.status_code == 201 and second.get_json()["status"] == "released"

    as_user(world.company_user)
    data = client.get(f"/api/v1/outputs/{output.id}/data")
    assert data.status_code == 200 and data.data == SAFE_TABLE
    assert "attachment" in data.headers["Content-Disposition"]
    manifest = client.get(f"/api/v1/outputs/{output.id}/manifest").get_json()
    key = client.get("/.well-known/marketplace-signing-key").get_json()["public_key"]
    assert manifest["public_key"] == key
    signed = {k: v for k, v in manifest.items() if k != "signature"}
    Ed25519PublicKey.from_public_bytes(base64.b64decode(key)).verify(
        base64.b64decode(manifest["signature"]),
        json.dumps(signed, sort_keys=True, separators=(",", ":")).encode())
    assert manifest["sha256"] == data.headers["X-Content-SHA256"]
    for field in ("output_id", "job_id", "permit_id", "sha256", "script_sha256", "checks",
                  "reviewers", "released_at", "signature", "public_key"):
        assert field in manifest


def test_the_queue_is_for_checkers_only(client, release_world, as_user):
    world = release_world
    world.make_output()
    assert client.get("/api/v1/output-reviews").status_code == 401
    as_user(world.company_user)
    response = client.get("/api/v1/output-reviews")
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    as_user(world.rival_checker)
    assert client.get("/api/v1/output-reviews").get_json()["items"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"decision": "maybe"}, "decision"),
    ({"decision": "reject"}, "comment"),
    ({"decision": "request_changes", "comment": "   "}, "comment"),
    ({"decision": "reject", "comment": "x" * 4001}, "comment"),
    ({"decision": "approve", "comment": "Borgeren 010190-1234 ses i tabellen"}, "comment"),
    ({"decision": "approve", "extra": 1}, "extra"),
    ({}, "decision"),
    ({"decision": ["approve"]}, "decision"),
])
def test_bad_reviews_are_refused_and_change_nothing(client, release_world, as_user, session,
                                                    body, field):
    world = release_world
    output = world.make_output()
    headers = as_user(world.checker_a)
    response = _review(client, headers, output.id, body)
    assert response.status_code == 422, response.get_data(as_text=True)
    problem = response.get_json()
    assert field in [error["field"] for error in problem["errors"]]
    session.expire_all()
    assert release.require_output(session, output_id=output.id).reviews == []


def test_a_missing_comment_is_explained_in_the_callers_language(client, release_world, as_user):
    world = release_world
    output = world.make_output()
    headers = as_user(world.checker_a)
    danish = _review(client, headers, output.id, {"decision": "reject"}).get_json()
    assert danish["errors"][0]["message"] == "skriv en begrundelse til virksomheden"
    english = _review(client, headers, output.id, {"decision": "reject"}, lang="en").get_json()
    assert english["errors"][0]["message"] == "write the company a reason"


def test_a_huge_body_is_refused(client, release_world, as_user):
    world = release_world
    output = world.make_output()
    headers = as_user(world.checker_a)
    response = _review(client, headers, output.id, {"decision": "reject",
                                                    "comment": "x" * 3_000_000})
    assert response.status_code in (413, 422)


@pytest.mark.parametrize("path", [
    f"/api/v1/outputs/{HUGE}/reviews", "/api/v1/outputs/0/reviews",
])
def test_out_of_range_ids_are_invalid(client, release_world, as_user, path):
    headers = as_user(release_world.checker_a)
    response = client.post(path, json={"decision": "approve"}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "output_id"


@pytest.mark.parametrize("suffix", ["", "/data", "/manifest"])
def test_out_of_range_ids_are_invalid_when_reading(client, release_world, as_user, suffix):
    as_user(release_world.company_user)
    assert client.get(f"/api/v1/outputs/{HUGE}{suffix}").status_code == 422


def test_self_approval_double_approval_and_other_holders(client, release_world, as_user,
                                                         session):
    world = release_world
    output = world.make_output()
    headers = as_user(world.company_user)
    assert _review(client, headers, output.id, {"decision": "approve"}).status_code == 403
    headers = as_user(world.rival_checker)
    assert _review(client, headers, output.id, {"decision": "approve"}).status_code == 404
    assert _review(client, headers, 2**31 - 1, {"decision": "approve"}).status_code == 404
    headers = as_user(world.checker_a)
    assert _review(client, headers, output.id, {"decision": "approve"}).status_code == 201
    again = _review(client, headers, output.id, {"decision": "approve"})
    assert again.status_code == 409
    session.expire_all()
    assert release.require_output(session, output_id=output.id).status == "pending_review"


def test_without_csrf_a_session_cannot_review(client, release_world, login):
    world = release_world
    output = world.make_output()
    login(world.checker_a)
    response = client.post(f"/api/v1/outputs/{output.id}/reviews", json={"decision": "approve"})
    assert response.status_code in (400, 403)


def test_others_cannot_download_or_read_the_manifest(client, release_world, as_user):
    world = release_world
    output = world.make_output()
    for user in (world.checker_a, world.checker_b):
        headers = as_user(user)
        _review(client, headers, output.id, {"decision": "approve"})
    as_user(world.rival_company_user)
    assert client.get(f"/api/v1/outputs/{output.id}/data").status_code == 404
    assert client.get(f"/api/v1/outputs/{output.id}/manifest").status_code == 404
    as_user(world.checker_a)
    assert client.get(f"/api/v1/outputs/{output.id}/data").status_code == 403
    assert client.get(f"/api/v1/outputs/{output.id}/manifest").status_code == 200
    as_user(world.holder_admin)
    assert client.get(f"/api/v1/outputs/{output.id}/manifest").status_code == 403


def test_a_company_client_downloads_with_a_bearer_token(client, release_world, as_user,
                                                        api_headers):
    world = release_world
    output = world.make_output()
    for user in (world.checker_a, world.checker_b):
        _review(client, as_user(user), output.id, {"decision": "approve"})
    with client.session_transaction() as cookie:
        cookie.clear()
    headers = api_headers(world.company, scopes="access:request")
    response = client.get(f"/api/v1/outputs/{output.id}/data", headers=headers)
    assert response.status_code == 200 and response.data == SAFE_TABLE


def test_output_rules_over_the_api(client, release_world, as_user):
    world = release_world
    path = f"/api/v1/datasets/{world.dataset.id}/output-policy"
    headers = as_user(world.holder_admin)
    assert client.get(path).get_json() == {
        "dataset_id": world.dataset.id, "cell_threshold": 5, "checkers_required": 2,
        "allowed_types": ["csv", "html", "json", "md", "pdf", "png", "svg", "txt"]}
    changed = client.put(path, json={"cell_threshold": 10, "checkers_required": 1,
                                     "allowed_types": ["csv", "png"]}, headers=headers)
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json()["checkers_required"] == 1
    for body, field in [({"cell_threshold": 0, "checkers_required": 1, "allowed_types": ["csv"]},
                         "cell_threshold"),
                        ({"cell_threshold": 5, "checkers_required": 3, "allowed_types": ["csv"]},
                         "checkers_required"),
                        ({"cell_threshold": 5, "checkers_required": 2, "allowed_types": ["exe"]},
                         "allowed_types"),
                        ({"cell_threshold": 5, "checkers_required": 2, "allowed_types": []},
                         "allowed_types")]:
        response = client.put(path, json=body, headers=headers)
        assert response.status_code == 422
        assert response.get_json()["errors"][0]["field"].startswith(field)
    headers = as_user(world.checker_a)
    refused = client.put(path, json={"cell_threshold": 1, "checkers_required": 1,
                                     "allowed_types": ["csv"]}, headers=headers)
    assert refused.status_code == 403
    assert client.get(path).get_json()["cell_threshold"] == 10
    assert client.get(f"/api/v1/datasets/{HUGE}/output-policy").status_code == 422
    assert client.get("/api/v1/datasets/999999/output-policy").status_code == 404


def test_the_checker_pages_show_checks_script_and_justification(client, release_world,
                                                                 as_user):
    world = release_world
    output = world.make_output(SMALL_CELLS, justification="Tabel 1 i artiklen.")
    as_user(world.checker_a)
    queue = client.get("/output-reviews")
    assert queue.status_code == 200
    page = queue.get_data(as_text=True)
    assert "Resultater til kontrol" in page and "table.csv" in page
    review = client.get(f"/output-reviews/{output.id}").get_data(as_text=True)
    assert "read_parquet" in review  # the script
    assert "Tabel 1 i artiklen." in review
    assert "færre end 5 personer" in review
    english = client.get(f"/output-reviews/{output.id}?lang=en").get_data(as_text=True)
    assert "fewer than 5 persons" in english


def test_the_review_form_records_decisions_and_explains_errors(client, release_world, as_user,
                                                               session):
    world = release_world
    output = world.make_output()
    headers = as_user(world.checker_a)
    token = headers["X-CSRF-Token"]
    missing = client.post(f"/output-reviews/{output.id}",
                          data={"csrf_token": token, "decision": "reject", "comment": ""})
    assert missing.status_code == 422
    assert "skriv en begrundelse til virksomheden" in missing.get_data(as_text=True)
    done = client.post(f"/output-reviews/{output.id}",
                       data={"csrf_token": token, "decision": "approve", "comment": ""})
    assert done.status_code == 302
    headers = as_user(world.checker_b)
    client.post(f"/output-reviews/{output.id}",
                data={"csrf_token": headers["X-CSRF-Token"], "decision": "approve"})
    session.expire_all()
    assert release.require_output(session, output_id=output.id).status == "released"
    as_user(world.company_user)
    page = client.get(f"/outputs/{output.id}").get_data(as_text=True)
    assert "Hent resultatet" in page


def test_pages_refuse_strangers_and_huge_ids(client, release_world, as_user):
    world = release_world
    output = world.make_output()
    assert client.get("/output-reviews").status_code == 302  # to sign-in
    as_user(world.company_user)
    assert client.get("/output-reviews").status_code == 403
    assert client.get(f"/output-reviews/{output.id}").status_code == 403
    assert client.get(f"/output-reviews/{HUGE}").status_code == 404
    as_user(world.rival_checker)
    assert client.get(f"/output-reviews/{output.id}").status_code == 404
    assert client.get(f"/outputs/{output.id}").status_code == 404
    assert client.get(f"/outputs/{HUGE}").status_code == 404


def test_the_output_rules_form(client, release_world, as_user):
    world = release_world
    headers = as_user(world.holder_admin)
    path = f"/datasets/{world.dataset.id}/output-policy"
    assert "Mindste antal personer pr. tabelcelle" in client.get(path).get_data(as_text=True)
    bad = client.post(path, data={"csrf_token": headers["X-CSRF-Token"], "cell_threshold": "x",
                                  "checkers_required": "1", "allowed_types": ["csv"]})
    assert bad.status_code == 422
    saved = client.post(path, data={"csrf_token": headers["X-CSRF-Token"],
                                    "cell_threshold": "8", "checkers_required": "1",
                                    "allowed_types": ["csv", "pdf"]})
    assert saved.status_code == 302
    assert client.get(f"/api/v1/datasets/{world.dataset.id}/output-policy").get_json()[
        "allowed_types"] == ["csv", "pdf"]


def test_approving_a_failed_check_on_the_page_asks_for_the_reasoning(client, release_world,
                                                                     as_user):
    world = release_world
    output = world.make_output(SMALL_CELLS)
    headers = as_user(world.checker_a)
    response = client.post(f"/output-reviews/{output.id}",
                           data={"csrf_token": headers["X-CSRF-Token"], "decision": "approve"})
    assert response.status_code == 422
    assert "forklar, hvorfor resultatet er sikkert" in response.get_data(as_text=True)


def test_the_openapi_document_describes_the_release_api(client):
    document = client.get("/api/openapi.json").get_json()
    review = document["paths"]["/api/v1/outputs/{output_id}/reviews"]["post"]
    assert {"201", "403", "404", "409", "422"} <= set(review["responses"])
    body = review["requestBody"]["content"]["application/json"]["schema"]
    assert "ReviewIn" in json.dumps(body)
    assert "/api/v1/output-reviews" in document["paths"]
    assert "put" in document["paths"]["/api/v1/datasets/{dataset_id}/output-policy"]


def test_a_released_output_is_listed_under_its_permit_in_the_public_register(
        client, release_world, as_user):
    world = release_world
    output = world.make_output(name="koen_tabel.csv")
    register = client.get("/api/v1/register").get_json()
    assert all(item["released_outputs"] == [] for item in register["items"])
    for checker in (world.checker_a, world.checker_b):
        headers = as_user(checker)
        assert _review(client, headers, output.id, {"decision": "approve",
                                                    "comment": "Ok."}).status_code == 201
    client.delete_cookie("marketplace_session")
    register = client.get("/api/v1/register").get_json()
    entry = next(item for item in register["items"] if item["permit_id"] == output.permit_id)
    assert [o["name"] for o in entry["released_outputs"]] == ["koen_tabel.csv"]
    assert entry["released_outputs"][0]["sha256"] == output.sha256
    assert "koen_tabel.csv" in client.get("/register").get_data(as_text=True)
