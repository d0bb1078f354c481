"""Server-side record of browser sign-ins: logout and expiry hold even for a copied cookie."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from marketplace.db import utcnow
from marketplace.identity import services
from marketplace.identity.models import Citizen, SignIn, User
from marketplace.identity.principal import ANONYMOUS, Principal
from marketplace.security import Keyring

ABSOLUTE_LIFETIME = timedelta(hours=12)
# Where the app keeps what other domains do when a citizen signs in (consent records the
# children the claim names). Identity calls them without knowing those domains.
CITIZEN_SIGN_IN_HOOKS = "marketplace.citizen_sign_in_hooks"


@dataclass(frozen=True)
class CitizenSignedIn:
    """What a citizen's sign-in tells the rest of the platform."""

    citizen: Citizen
    child_cprs: list[str]
    keyring: Keyring


SignInHook = Callable[[Session, CitizenSignedIn], object]


def start_sign_in(db: Session, *, kind: str, subject_id: int) -> SignIn:
    sign_in = SignIn(id=secrets.token_urlsafe(32), kind=kind, subject_id=subject_id,
                     started_at=utcnow(), last_seen_at=utcnow())
    db.add(sign_in)
    db.flush()
    return sign_in


def complete_sign_in(db: Session, *, keyring: Keyring, claims: dict[str, Any],
                     cpr_claim_name: str, children_claim_name: str,
                     on_citizen: Sequence[SignInHook] = ()) -> SignIn:
    """Recognise whoever the provider vouched for and start their sign-in.

    A CPR claim makes a citizen, and each of `on_citizen` hears of it with the children the
    claim names; otherwise the subject must be a staff member. Raises Unauthorized for a
    malformed CPR claim and Forbidden for an unknown staff subject.
    """
    cpr_claim = claims.get(cpr_claim_name)
    if cpr_claim is None:
        user = services.sign_in_staff(db, sub=str(claims.get("sub", "")), claims=claims)
        return start_sign_in(db, kind="staff", subject_id=user.id)
    citizen = services.sign_in_citizen(db, keyring=keyring, cpr_claim=cpr_claim,
                                       name=str(claims.get("name") or ""))
    children = claims.get(children_claim_name) or []
    event = CitizenSignedIn(
        citizen=citizen, keyring=keyring,
        child_cprs=[str(c) for c in children] if isinstance(children, list) else [])
    for hook in on_citizen:
        hook(db, event)
    return start_sign_in(db, kind="citizen", subject_id=citizen.id)


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
    if sign_in.kind == "citizen":
        citizen = services.get_citizen(db, citizen_id=sign_in.subject_id)
        principal = services.citizen_principal(citizen) if citizen else ANONYMOUS
    else:
        user = db.get(User, sign_in.subject_id)
        # A deactivated account stops at once, even mid-sign-in.
        principal = services.staff_principal(user) if user and user.is_active else ANONYMOUS
    # Touch at most once a minute: keeps the idle clock without a write per request. Touched
    # last, so that no query autoflushes it and the caller sees the session dirty.
    if now - sign_in.last_seen_at > timedelta(minutes=1):
        sign_in.last_seen_at = now
    return principal
