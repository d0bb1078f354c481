"""What the console gathers from several domains: the audit check of `marketplace audit verify`.

The chain itself lives in the foundation (`marketplace.audit`); cutting off its newest entries
is seen only against the access records that must each have an entry, so the full check sits
here, above both, and the command line and the console share it.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.access import services as access_services
from marketplace.errors import Forbidden
from marketplace.identity.principal import Principal


@dataclass(frozen=True)
class AuditCheck:
    ok: bool
    checked: int
    first_broken_id: int | None
    reason: str | None
    head: str | None
    waiting: int = 0

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "checked": self.checked, "first_broken_id": self.first_broken_id,
                "reason": self.reason, "head": self.head, "waiting": self.waiting}


def check_audit(session: Session) -> AuditCheck:
    """Walk the chain and its anchor, then look for access records without an entry."""
    result = audit.verify_audit_chain(session)
    unaudited = access_services.find_unaudited_state(session) if result.ok else None
    reason = result.reason or (f"entries were cut off: no audit entry for {unaudited}"
                               if unaudited else None)
    return AuditCheck(ok=result.ok and unaudited is None, checked=result.checked,
                      first_broken_id=result.first_broken_id, reason=reason, head=result.head,
                      waiting=result.waiting)


def verify_audit_for(session: Session, *, actor: Principal) -> AuditCheck:
    """The audit check for the operator; raise Forbidden for anyone else."""
    if not actor.is_operator:
        raise Forbidden("kun platformens operatør kontrollerer revisionssporet")
    return check_audit(session)
