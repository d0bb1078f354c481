"""JSON log lines through the standard logging module, each carrying the request's id.

- Every request gets an id: a well-formed `X-Request-ID` from the caller (or the proxy) is kept,
  otherwise one is made; it is returned in the `X-Request-ID` response header and added to every
  log line written while the request runs.
- One line per request (`marketplace.request`): method, path (never the query string, which may
  carry personal data), status, duration in milliseconds and the endpoint.
- One line per committed act (`marketplace.acts`): a sign-in, an access decision, an audit
  entry, a job queued or changing state. These are read from the session's flushes, so the
  domains need no logging code of their own and a rolled-back act is never logged.
- CPR-like numbers are redacted from the message and from every extra field
  (`marketplace.security.CprRedactingFilter`) on every handler of the root logger.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Any, ClassVar, TextIO

import sqlalchemy as sa
from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.orm import Session

from marketplace import db
from marketplace.cpr import CPR_IN_TEXT
from marketplace.security import install_log_redaction

REQUEST_ID_HEADER = "X-Request-ID"
_GOOD_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_PENDING_ACTS = "marketplace.pending_acts"

request_log = logging.getLogger("marketplace.request")
acts_log = logging.getLogger("marketplace.acts")


class _StderrHandler(logging.StreamHandler):
    """Write to whatever sys.stderr is now (a test's capture, a re-opened stream)."""

    marketplace_handler = True

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class RequestIdFilter(logging.Filter):
    """Add the current request's id to a record logged while a request runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            request_id = g.get("request_id")
            if request_id:
                record.request_id = request_id
        return True


def _formatter(kind: str) -> logging.Formatter:
    if kind == "text":
        return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    # "time" is UTC ISO 8601 with microseconds, so lines from several processes sort.
    return JsonFormatter(["levelname", "name", "message"], timestamp="time",
                         rename_fields={"levelname": "level", "name": "logger"})


def configure_logging(*, level: str = "INFO", kind: str = "json") -> None:
    """Send log lines to stderr as JSON (or text), once per process; redact CPR everywhere.

    Libraries stay at WARNING (some are chatty at INFO); the marketplace's own loggers log at
    `level`.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "marketplace_handler", False)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
        if root.level == logging.NOTSET or root.level > logging.WARNING:
            root.setLevel(logging.WARNING)
    handler.setFormatter(_formatter(kind))
    logging.getLogger("marketplace").setLevel(level.upper())
    install_log_redaction()


def _start_request() -> None:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    usable = _GOOD_REQUEST_ID.match(offered) and not CPR_IN_TEXT.search(offered)
    g.request_id = offered if usable else new_request_id()
    g.request_started = time.perf_counter()


def new_request_id() -> str:
    """A random id that never looks like a CPR number (a hex id can hold ten digits in a row),
    so the log redaction never alters it and the logs and the response header agree."""
    while CPR_IN_TEXT.search(candidate := uuid.uuid4().hex):
        pass
    return candidate


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is None:  # a response made before our first hook ran
        return response
    response.headers[REQUEST_ID_HEADER] = request_id
    duration_ms = (time.perf_counter() - g.request_started) * 1000
    request_log.info(
        "%s %s %s", request.method, request.path, response.status_code,
        extra={"method": request.method, "path": request.path,
               "status": response.status_code, "duration_ms": round(duration_ms, 2),
               "endpoint": request.endpoint or "-"},
    )
    return response


# --- committed acts ----------------------------------------------------------------------------

class _Act:
    """How to describe a new or changed row of one table in a log line (no personal data)."""

    inserted: ClassVar[dict[str, tuple[str, tuple[str, ...]]]] = {
        # table: (message, attributes to log)
        "sign_in": ("sign-in started", ("kind", "subject_id")),
        "access_decision": ("access decision recorded", ("outcome", "access_request_id")),
        "audit_entry": ("act recorded in the audit chain",
                        ("action", "subject_type", "subject_id", "actor")),
        "extract": ("extract queued", ("id", "permit_id")),
        "workspace_job": ("workspace job queued", ("id", "permit_id")),
        "output_review": ("output review recorded", ("output_id", "decision")),
    }
    status_changes: ClassVar[dict[str, str]] = {
        "extract": "extract", "workspace_job": "workspace job", "workspace_output": "output",
    }
    # A record attribute of the same name would clash with LogRecord's own or with ours.
    renamed: ClassVar[dict[str, str]] = {"id": "object_id"}


def _collect_acts(session: Session, _context: Any) -> None:
    _collect_new(session, session.new)
    _collect_changed(session)


def _collect_new(session: Session, objects: Iterable[Any]) -> None:
    pending: list[tuple[str, dict[str, Any]]] = session.info.setdefault(_PENDING_ACTS, [])
    for obj in objects:
        table = getattr(obj, "__tablename__", None)
        described = _Act.inserted.get(table or "")
        if described is None:
            continue
        message, attributes = described
        pending.append((message, {_Act.renamed.get(a, a): getattr(obj, a, None)
                                  for a in attributes}))


def _collect_changed(session: Session) -> None:
    pending: list[tuple[str, dict[str, Any]]] = session.info.setdefault(_PENDING_ACTS, [])
    for obj in session.dirty:
        table = getattr(obj, "__tablename__", None)
        noun = _Act.status_changes.get(table or "")
        if noun is None:
            continue
        state = sa.inspect(obj)
        if "status" not in state.attrs:
            continue
        history = state.attrs.status.history
        if history.added and history.deleted:
            pending.append((f"{noun} {history.added[0]}",
                            {"object_id": getattr(obj, "id", None),
                             "previous_status": history.deleted[0],
                             "status": history.added[0]}))


def _emit_acts(session: Session) -> None:
    for message, fields in session.info.pop(_PENDING_ACTS, []):
        acts_log.info(message, extra=fields)


def _forget_acts(session: Session, *_args: Any) -> None:
    session.info.pop(_PENDING_ACTS, None)


def install_act_logging() -> None:
    """Log committed acts from every session (idempotent)."""
    if sa.event.contains(Session, "after_flush", _collect_acts):
        return
    sa.event.listen(Session, "after_flush", _collect_acts)
    db.on_rows_inserted(_collect_new)
    sa.event.listen(Session, "after_commit", _emit_acts)
    sa.event.listen(Session, "after_rollback", _forget_acts)


def init_app(app: Flask) -> None:
    configure_logging(level=str(app.config.get("LOG_LEVEL", "INFO")),
                      kind=str(app.config.get("LOG_FORMAT", "json")))
    install_act_logging()
    app.before_request(_start_request)
    app.after_request(_finish_request)
