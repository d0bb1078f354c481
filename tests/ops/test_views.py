"""/healthz, /readyz and /metrics as a load balancer, an orchestrator and Prometheus see them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from marketplace.access.models import AccessDecision
from marketplace.db import create_engine_for, utcnow
from marketplace.delivery import services as delivery_services
from marketplace.delivery.models import Extract
from tests.delivery.conftest import upload, world  # noqa: F401  (the delivery test world)


def test_healthz_answers_without_touching_anything(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_healthz_ignores_a_bad_bearer_header(client) -> None:
    # A probe is never turned away for credentials it did not need to send.
    response = client.get("/healthz", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert response.status_code == 200


def test_readyz_names_every_check(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {
        "database": {"ok": True}, "data_dir": {"ok": True}, "keys": {"ok": True}}}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_fails_with_a_broken_data_folder(app, client, tmp_path) -> None:
    not_a_folder = tmp_path / "data-is-a-file"
    not_a_folder.write_text("")
    app.config["DATA_DIR"] = not_a_folder
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not_ready"
    assert body["checks"]["data_dir"]["ok"] is False
    assert "not writable" in body["checks"]["data_dir"]["error"]
    assert str(tmp_path) not in response.get_data(as_text=True)  # no server paths leak
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["keys"] == {"ok": True}
    assert list(not_a_folder.parent.glob(".ready-*")) == []


def test_readyz_fails_without_a_migrated_database(app, client, tmp_path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'empty.db'}")
    app.extensions["marketplace.sessionmaker"] = sessionmaker(bind=engine)
    try:
        response = client.get("/readyz")
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["ok"] is False
    assert response.get_json()["checks"]["data_dir"] == {"ok": True}


def test_readyz_fails_when_the_schema_is_behind_the_code(client, session) -> None:
    session.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    session.commit()
    response = client.get("/readyz")
    assert response.status_code == 503
    error = response.get_json()["checks"]["database"]["error"]
    assert "the schema is at 0001" in error and "marketplace db upgrade" in error


def test_the_caller_s_request_id_is_kept_and_a_hostile_one_replaced(client) -> None:
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c2e-0001"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a9c2e-0001"
    for hostile in ("short", "x" * 500, "id with spaces", "id\u2028newline", "<script>"):
        response = client.get("/healthz", headers={"X-Request-ID": hostile})
        assert response.headers["X-Request-ID"] != hostile
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "")
    match = re.search(rf"^{pattern} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} {labels} missing from\n{text}"
    return float(match.group(1))


def test_metrics_count_requests_by_endpoint(client) -> None:
    client.get("/healthz")
    before = client.get("/metrics").get_data(as_text=True)
    count = _sample(before, "marketplace_http_request_duration_seconds_count",
                    endpoint="ops.healthz", method="GET", status="2xx")
    client.get("/healthz")
    client.get("/no-such-page")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "# TYPE marketplace_http_request_duration_seconds histogram" in text
    assert _sample(text, "marketplace_http_request_duration_seconds_count",
                   endpoint="ops.healthz", method="GET", status="2xx") == count + 1
    assert _sample(text, "marketplace_http_request_duration_seconds_count",
                   endpoint="unmatched", method="GET", status="4xx") >= 1


def test_metrics_show_queues_decisions_and_outputs(client, session, world) -> None:  # noqa: F811
    permit = world.make_permit()
    extract = delivery_services.request_extract(session, actor=world.company_actor,
                                                permit_id=permit.id, dataset_id=None,
                                                now=utcnow())
    session.flush()
    session.get(Extract, extract.id).created_at = utcnow() - timedelta(minutes=5)
    session.add(AccessDecision(access_request_id=permit.access_request_id, round=1,
                               outcome="deny", reasons=[], policy_version="test"))
    session.commit()
    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "marketplace_job_queue_depth", queue="extract") == 1
    assert _sample(text, "marketplace_job_queue_oldest_age_seconds", queue="extract") >= 300
    assert _sample(text, "marketplace_job_queue_depth", queue="workspace_job") == 0
    assert _sample(text, "marketplace_job_queue_oldest_age_seconds", queue="workspace_job") == 0
    assert _sample(text, "marketplace_access_decisions_total", outcome="deny") == 1
    assert _sample(text, "marketplace_access_decisions_total", outcome="permit") == 0
    assert _sample(text, "marketplace_outputs_awaiting_review") == 0


@pytest.mark.parametrize("headers", [
    {"X-Forwarded-For": "203.0.113.9"},
    {"Forwarded": "for=203.0.113.9"},
])
def test_metrics_refuse_callers_relayed_by_a_proxy(client, headers) -> None:
    response = client.get("/metrics", headers={**headers, "Accept": "application/json"})
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "Målingerne er kun for driftens overvågning"
    assert "marketplace_" not in response.get_data(as_text=True)


def test_metrics_refuse_remote_callers(client) -> None:
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 403


def test_metrics_token_opens_the_page_and_nothing_else_does(app, client) -> None:
    app.config["METRICS_TOKEN"] = "scrape-secret-1234567890"
    remote = {"REMOTE_ADDR": "198.51.100.7"}
    for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-secret"}):
        assert client.get("/metrics", headers=header, environ_base=remote).status_code == 403
    # With a token configured, loopback alone is no longer enough.
    assert client.get("/metrics").status_code == 403
    response = client.get("/metrics", environ_base=remote,
                          headers={"Authorization": "Bearer scrape-secret-1234567890"})
    assert response.status_code == 200
    assert "marketplace_job_queue_depth" in response.get_data(as_text=True)


def test_metrics_refusal_in_english(client) -> None:
    response = client.get("/metrics?lang=en", headers={"X-Forwarded-For": "203.0.113.9",
                                                       "Accept": "application/json"})
    assert response.status_code == 403
    assert response.get_json()["detail"] == "The metrics are for the operator's monitoring only"
