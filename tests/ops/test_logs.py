"""Log lines are JSON with the request's id, and never carry a CPR number."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from marketplace.access.models import AccessDecision
from tests.delivery.conftest import upload, world  # noqa: F401  (the delivery test world)

CPR = "0101901234"
CPR_DASHED = "010190-1234"


def _lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def test_each_request_writes_one_json_line_with_its_id(client, capsys) -> None:
    capsys.readouterr()
    response = client.get("/healthz?secret=1", headers={"X-Request-ID": "probe-42-abcdef"})
    lines = [line for line in _lines(capsys.readouterr().err)
             if line["logger"] == "marketplace.request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == response.headers["X-Request-ID"] == "probe-42-abcdef"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["endpoint"] == "ops.healthz"
    assert isinstance(line["duration_ms"], float | int)
    assert line["level"] == "INFO" and line["time"]
    assert "secret" not in json.dumps(line)  # the query string is never logged


def test_lines_written_during_a_request_carry_its_id(app, client, capsys) -> None:
    @app.get("/test-only/log")
    def _write_a_line() -> str:
        logging.getLogger("marketplace.test").warning("inside the request")
        return "ok"

    capsys.readouterr()
    response = client.get("/test-only/log")
    inside = [line for line in _lines(capsys.readouterr().err)
              if line["message"] == "inside the request"]
    assert inside and inside[0]["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("path", [f"/catalog/{CPR}", f"/api/v1/datasets/{CPR_DASHED}",
                                  f"/x/{CPR}/y"])
def test_a_cpr_in_the_path_never_reaches_the_log(client, capsys, path) -> None:
    capsys.readouterr()
    response = client.get(path)
    assert response.status_code in (404, 422)
    err = capsys.readouterr().err
    assert CPR not in err and CPR_DASHED not in err
    request_lines = [line for line in _lines(err) if line["logger"] == "marketplace.request"]
    assert request_lines and "[CPR]" in request_lines[0]["path"]


def test_a_cpr_in_a_message_or_extra_field_never_reaches_the_log(client, capsys) -> None:
    capsys.readouterr()
    log = logging.getLogger("marketplace.test")
    log.warning("citizen %s signed in", CPR_DASHED)
    log.warning("lookup", extra={"who": f"borger {CPR}"})
    try:
        raise ValueError(f"bad number {CPR}")
    except ValueError:
        log.exception("could not parse")
    err = capsys.readouterr().err
    assert CPR not in err and CPR_DASHED not in err
    lines = _lines(err)
    assert lines[0]["message"] == "citizen [CPR] signed in"
    assert lines[1]["who"] == "borger [CPR]"
    assert "exception text withheld" in lines[2]["message"]


def test_committed_acts_are_logged_and_rolled_back_ones_are_not(session, world,  # noqa: F811
                                                                capsys) -> None:
    permit = world.make_permit()
    capsys.readouterr()
    session.add(AccessDecision(access_request_id=permit.access_request_id, round=1,
                               outcome="review", reasons=[], policy_version="test"))
    session.flush()
    session.rollback()
    assert not [line for line in _lines(capsys.readouterr().err)
                if line["message"] == "access decision recorded"]

    session.add(AccessDecision(access_request_id=permit.access_request_id, round=1,
                               outcome="deny", reasons=[], policy_version="test"))
    session.commit()
    acts = [line for line in _lines(capsys.readouterr().err) if line["logger"] ==
            "marketplace.acts"]
    assert [(a["message"], a["outcome"], a["access_request_id"]) for a in acts] == [
        ("access decision recorded", "deny", permit.access_request_id)]


def test_an_audit_entry_is_logged_without_its_details(session, capsys) -> None:
    from marketplace import audit

    capsys.readouterr()
    audit.record_audit(session, actor=None, action="permit.revoked", subject_type="permit",
                       subject_id="7", details={"reason": f"citizen {CPR}"})
    session.commit()
    err = capsys.readouterr().err
    acts = [line for line in _lines(err) if line["logger"] == "marketplace.acts"]
    assert acts == [{**acts[0], "message": "act recorded in the audit chain",
                     "action": "permit.revoked", "subject_type": "permit", "subject_id": "7",
                     "actor": "system"}]
    assert CPR not in err  # the details are never logged


def test_a_handler_added_later_never_sees_a_cpr_in_a_message(client) -> None:
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    late = Collect()
    logging.getLogger().handlers.insert(0, late)  # first: before any redacting handler filter
    try:
        logging.getLogger("some.library").warning("looked up %s", CPR_DASHED)
        client.get(f"/catalog/{CPR}")
    finally:
        logging.getLogger().removeHandler(late)
    assert "looked up [CPR]" in seen
    assert not [message for message in seen if CPR in message or CPR_DASHED in message]


def test_a_made_request_id_never_looks_like_a_cpr(monkeypatch) -> None:
    import uuid

    from marketplace.ops import logs

    # The first id holds ten digits in a row (as one in a few thousand hex ids does).
    made = iter([uuid.UUID("c4ac95d9621146b8879214558b61f538"),
                 uuid.UUID("c4ac95d9621146b8a79214558b61f538")])
    monkeypatch.setattr(logs.uuid, "uuid4", lambda: next(made))
    assert logs.new_request_id() == "c4ac95d9621146b8a79214558b61f538"


def test_an_offered_request_id_holding_a_cpr_is_replaced(client, capsys) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": f"req-{CPR}"})
    assert CPR not in response.headers["X-Request-ID"]
    assert CPR not in capsys.readouterr().err
