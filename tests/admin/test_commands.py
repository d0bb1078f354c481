"""`marketplace audit verify` exits 0 on an intact chain and names the first broken entry."""
from __future__ import annotations

import json

import sqlalchemy as sa

from marketplace import audit
from marketplace.audit import AuditEntry
from marketplace.cli import cli
from tests.access.test_services import drop_append_only_guard


def _verify(app):
    result = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    return result.exit_code, json.loads(result.output)


def test_intact_chain_exits_zero(app, session):
    for n in range(3):
        audit.record_audit(session, actor=None, action="test.event", subject_type="test",
                              subject_id=str(n), details={"n": n})
    session.commit()
    code, report = _verify(app)
    assert code == 0
    assert report["ok"] is True and report["checked"] == 3 and len(report["head"]) == 64


def test_edited_entry_exits_non_zero_and_is_named(app, session):
    entries = [audit.record_audit(session, actor=None, action="test.event",
                                     subject_type="test", subject_id=str(n), details={"n": n})
               for n in range(3)]
    session.flush()
    drop_append_only_guard(session)
    session.execute(sa.update(AuditEntry).where(AuditEntry.id == entries[1].id)
                    .values(action="test.other"))
    session.commit()
    code, report = _verify(app)
    assert code == 1
    assert report["ok"] is False and report["first_broken_id"] == entries[1].id


def test_cut_off_entries_exit_non_zero(app, session, make_org):
    from marketplace.access.models import AccessRequest, Permit
    from marketplace.db import utcnow

    company = make_org("company")
    request = AccessRequest(company_org_id=company.id, submitted_by="test", title="t",
                            description="d", purpose="public_research", duration_days=1,
                            status="permitted")
    session.add(request)
    session.flush()
    permit = Permit(access_request_id=request.id, company_org_id=company.id,
                    purpose="public_research", datasets=[], policy_version="x",
                    approved_at=utcnow(), valid_until=utcnow())
    session.add(permit)  # a permit nobody recorded: as if its entry had been cut off
    session.commit()
    code, report = _verify(app)
    assert code == 1
    assert report["reason"] == f"entries were cut off: no audit entry for permit {permit.id}"


def test_empty_chain_is_intact(app):
    code, report = _verify(app)
    assert (code, report["checked"]) == (0, 0)
