"""Server-side record of browser sign-ins: logout and expiry hold even for a copied cookie."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from marketplace.db import utcnow
from marketplace.identity import services
from marketplace.identity.models import SignIn, User
from marketplace.identity.principal import ANONYMOUS, Principal

ABSOLUTE_LIFETIME = timedelta(hours=12)


def start_sign_in(db: Session, *, kind: str, subject_id: int) -> SignIn:
    sign_in = SignIn(id=secrets.token_urlsafe(32), kind=kind, subject_id=subject_id,
                     started_at=utcnow(), last_seen_at=utcnow())
    db.add(sign_in)
    db.flush()
    return sign_in


def end_sign_in(db: Session, *, sid: str | None) -> None:
    if not sid:
        return
    sign_in = db.get(SignIn, sid)
    if sign_in is not None and sign_in.ended_at is None:
        sign_in.ended_at = utcnow()


def principal_for_session(db: Session, cookie: Any, *, idle: timedelta) -> Principal:
    """Return the principal of a live sign-in, or ANONYMOUS if ended, expired or unknown."""
    sign_in = db.get(SignIn, cookie.get("sid"))
    now = utcnow()
    if (
        sign_in is None
        or sign_in.ended_at is not None
        or now - sign_in.last_seen_at > idle
        or now - sign_in.started_at > ABSOLUTE_LIFETIME
    ):
        cookie.clear()
        return ANONYMOUS
    # Touch at most once a minute: keeps the idle clock without a write per request.
    if now - sign_in.last_seen_at > timedelta(minutes=1):
        sign_in.last_seen_at = now
    if sign_in.kind == "citizen":
        citizen = services.get_citizen(db, citizen_id=sign_in.subject_id)
        return services.citizen_principal(citizen) if citizen else ANONYMOUS
    user = db.get(User, sign_in.subject_id)
    return services.staff_principal(user) if user else ANONYMOUS
