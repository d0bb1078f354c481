"""Telling people: every domain calls `notify` in the transaction of the event it tells about.

Recipients are staff users, named directly or as an organisation's members in some roles; the
person who acted is left out. Each recipient's choices decide whether the event reaches the
inbox, the mail outbox, both or neither. Mail is rendered in the recipient's language and left
in the outbox for a sender (`notifications.mailer`) outside the transaction.
"""
from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.db import column_rows, utcnow
from marketplace.errors import Forbidden, Invalid, NotFound
from marketplace.identity.models import User
from marketplace.identity.principal import Principal
from marketplace.notifications import kinds
from marketplace.notifications.models import MailMessage, Notification, NotificationSettings
from marketplace.statements import DriverStatement, insert_rows

INBOX_PAGE = 50


@dataclass(frozen=True)
class Audience:
    """Who is told: named users, and the members of organisations (in `roles`, or all)."""

    user_ids: tuple[int, ...] = ()
    org_ids: tuple[int, ...] = ()
    roles: frozenset[str] | None = None
    leave_out: tuple[int, ...] = ()


def members(*org_ids: int | None, roles: Iterable[str] | None = None,
            actor: Principal | None = None) -> Audience:
    """The staff of the organisations (in `roles` when given), without the one who acted."""
    return Audience(org_ids=tuple(i for i in org_ids if i is not None),
                    roles=frozenset(roles) if roles is not None else None,
                    leave_out=_actor_ids(actor))


def submitter(label: str, *, org_id: int, roles: Iterable[str] | None = None) -> Audience:
    """The staff member an audit label names ("staff:org:7"); for a system, its organisation."""
    kind, _, ident = label.rpartition(":")
    if kind.startswith("staff:") and ident.isdigit():
        return Audience(user_ids=(int(ident),))
    return members(org_id, roles=roles)


def _actor_ids(actor: Principal | None) -> tuple[int, ...]:
    return (actor.user_id,) if actor is not None and actor.user_id is not None else ()


@dataclass(frozen=True)
class _Recipient:
    """A staff member to tell, with their choices (the defaults where they made none)."""

    user_id: int
    email: str | None
    language: str
    inbox_off: frozenset[str]
    email_off: frozenset[str]


def _recipients_query(*, users: bool, orgs: bool, roles: bool, leave_out: bool) -> sa.Select:
    """The recipients with their choices (one round trip, not two), for one shape of audience;
    the ids and roles are bound when it runs."""
    conditions: list[sa.ColumnElement[bool]] = []
    if users:
        conditions.append(User.id.in_(sa.bindparam("user_ids", expanding=True)))
    if orgs:
        in_orgs: sa.ColumnElement[bool] = User.org_id.in_(sa.bindparam("org_ids", expanding=True))
        if roles:
            in_orgs = sa.and_(in_orgs, User.role.in_(sa.bindparam("roles", expanding=True)))
        conditions.append(in_orgs)
    choices = NotificationSettings
    query = (sa.select(User.id, User.email, choices.language, choices.inbox_off,
                       choices.email_off)
             .outerjoin(choices, choices.user_id == User.id)
             .where(sa.or_(*conditions)).order_by(User.id))
    if leave_out:
        query = query.where(User.id.not_in(sa.bindparam("leave_out", expanding=True)))
    return query


# Built once per shape: making a statement costs about as much as running it.
_RECIPIENTS = {shape: DriverStatement(_recipients_query(users=shape[0], orgs=shape[1],
                                                        roles=shape[2], leave_out=shape[3]))
               for shape in itertools.product((False, True), repeat=4) if shape[0] or shape[1]}


def _recipients(session: Session, audience: Audience) -> list[_Recipient]:
    """The audience's staff with their notification choices, by id."""
    orgs = bool(audience.org_ids)
    roles = orgs and audience.roles is not None
    shape = (bool(audience.user_ids), orgs, roles, bool(audience.leave_out))
    if not (shape[0] or shape[1]):
        return []
    values = {"user_ids": list(audience.user_ids), "org_ids": list(audience.org_ids),
              "roles": sorted(audience.roles or ()), "leave_out": list(audience.leave_out)}
    bound = {name: value for name, value, used in zip(values, values.values(), shape,
                                                      strict=True) if used}
    return [_Recipient(user_id, email, language or "da", frozenset(inbox_off or ()),
                       frozenset(email_off or ()))
            for user_id, email, language, inbox_off, email_off
            in column_rows(session, _RECIPIENTS[shape], bound)]


_NOTIFICATIONS = cast(sa.Table, Notification.__table__)
_MAIL = cast(sa.Table, MailMessage.__table__)


def notify(session: Session, *, kind: str, audience: Audience, params: dict[str, Any],
           link: str, dedupe_key: str | None = None) -> int:
    """Tell the audience about one event, in the caller's transaction; return how many people
    were told.

    With a `dedupe_key`, a person already told under that key is not told again.
    """
    if kind not in kinds.KINDS:
        raise ValueError(f"unknown notification kind {kind}")
    topic = kinds.topic_of(kind)
    clean = kinds.clean_params(params)
    recipients = _recipients(session, audience)
    if dedupe_key is not None and recipients:
        told = set(session.scalars(sa.select(Notification.user_id).where(
            Notification.dedupe_key == dedupe_key,
            Notification.user_id.in_([recipient.user_id for recipient in recipients]))))
        recipients = [recipient for recipient in recipients if recipient.user_id not in told]
    if not recipients:
        return 0
    now = utcnow()
    # Rows, not objects: every decision tells someone, and the unit of work cost more than the
    # inserts themselves. Ids come back in the rows' order.
    connection = session.connection()
    ids = insert_rows(connection, _NOTIFICATIONS, [
        {"user_id": recipient.user_id, "kind": kind, "params": clean, "link": link,
         "dedupe_key": dedupe_key, "created_at": now, "in_inbox": topic not in recipient.inbox_off}
        for recipient in recipients], returning=_NOTIFICATIONS.c.id)
    mail = [_mail(kind, clean, link, notification_id, recipient, now=now)
            for notification_id, recipient in zip(ids, recipients, strict=True)
            if recipient.email and topic not in recipient.email_off]
    insert_rows(connection, _MAIL, mail)
    return len(recipients)


def _mail(kind: str, params: dict[str, Any], link: str, notification_id: int,
          recipient: _Recipient, *, now: datetime) -> dict[str, Any]:
    """The outbox row of one notification, rendered in the recipient's language."""
    subject, body = kinds.render(kind, params, recipient.language)
    return {"notification_id": notification_id, "to_address": recipient.email,
            "language": recipient.language, "subject": subject, "body": body, "link": link,
            "status": "pending", "message_token": secrets.token_hex(16), "attempts": 0,
            "next_attempt_at": now, "created_at": now}


# --- the inbox -------------------------------------------------------------------------------

def _require_staff(actor: Principal) -> int:
    if actor.kind != "staff" or actor.user_id is None:
        raise Forbidden("kun medarbejdere har en indbakke med beskeder")
    return actor.user_id


def _inbox(user_id: int) -> sa.Select:
    return sa.select(Notification).where(Notification.user_id == user_id,
                                         Notification.in_inbox.is_(True))


@dataclass(frozen=True)
class InboxPage:
    items: list[Notification]
    total: int
    unread: int
    page: int
    per_page: int


def list_inbox(session: Session, *, actor: Principal, page: int = 1,
               per_page: int = INBOX_PAGE, unread_only: bool = False) -> InboxPage:
    """The actor's notifications, newest first, with the total and the unread count."""
    user_id = _require_staff(actor)
    query = _inbox(user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    items = list(session.scalars(query.order_by(Notification.created_at.desc(),
                                                Notification.id.desc())
                                 .offset((page - 1) * per_page).limit(per_page)))
    return InboxPage(items, total, unread_count(session, actor=actor), page, per_page)


def unread_count(session: Session, *, actor: Principal) -> int:
    """How many of the actor's inbox notifications are unread (0 for anyone but staff)."""
    if actor.kind != "staff" or actor.user_id is None:
        return 0
    query = _inbox(actor.user_id).where(Notification.read_at.is_(None))
    return session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0


def mark_read(session: Session, *, actor: Principal, notification_id: int,
              now: datetime) -> Notification:
    """Mark one of the actor's notifications read; raise NotFound for anyone else's."""
    user_id = _require_staff(actor)
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id or not notification.in_inbox:
        raise NotFound("beskeden findes ikke")
    if notification.read_at is None:
        notification.read_at = now
    return notification


def mark_all_read(session: Session, *, actor: Principal, now: datetime) -> int:
    """Mark every unread notification of the actor read; return how many."""
    user_id = _require_staff(actor)
    result = session.execute(
        sa.update(Notification).where(Notification.user_id == user_id,
                                      Notification.read_at.is_(None))
        .values(read_at=now).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


# --- choices ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Choices:
    language: str
    inbox: dict[str, bool]
    email: dict[str, bool]
    topics: tuple[kinds.Topic, ...]


def topics_for(actor: Principal) -> tuple[kinds.Topic, ...]:
    """The topics that can concern the actor's role (the operator sees them all)."""
    if actor.is_operator:
        return kinds.TOPICS
    return tuple(t for t in kinds.TOPICS if actor.role in t.roles)


def get_choices(session: Session, *, actor: Principal) -> Choices:
    user_id = _require_staff(actor)
    settings = session.get(NotificationSettings, user_id)
    inbox_off = set(settings.inbox_off or []) if settings else set()
    email_off = set(settings.email_off or []) if settings else set()
    return Choices(language=settings.language if settings else "da",
                   inbox={t: t not in inbox_off for t in kinds.TOPIC_KEYS},
                   email={t: t not in email_off for t in kinds.TOPIC_KEYS},
                   topics=topics_for(actor))


def set_choices(session: Session, *, actor: Principal, language: str,
                inbox: dict[str, bool], email: dict[str, bool], now: datetime) -> Choices:
    """Store which topics reach the actor's inbox and mail, and the mail's language.

    Topics not named keep their current choice. Raises Invalid for an unknown topic or
    language.
    """
    user_id = _require_staff(actor)
    errors = [{"field": f"{channel}.{topic}", "message": "ukendt emne"}
              for channel, chosen in (("inbox", inbox), ("email", email))
              for topic in chosen if topic not in kinds.TOPIC_KEYS]
    if language not in kinds.LANGUAGES:
        errors.append({"field": "language", "message": "vælg da eller en"})
    if errors:
        raise Invalid("ukendte valg", errors=errors)
    settings = session.get(NotificationSettings, user_id)
    if settings is None:
        settings = NotificationSettings(user_id=user_id, inbox_off=[], email_off=[])
        session.add(settings)
    settings.language = language
    settings.inbox_off = _switched_off(settings.inbox_off, inbox)
    settings.email_off = _switched_off(settings.email_off, email)
    settings.updated_at = now
    session.flush()
    return get_choices(session, actor=actor)


def _switched_off(current: list[str] | None, chosen: dict[str, bool]) -> list[str]:
    off = set(current or [])
    for topic, wanted in chosen.items():
        (off.discard if wanted else off.add)(topic)
    return sorted(off)


# --- what was sent (the operator's view of the outbox) --------------------------------------

def list_mail(session: Session, *, actor: Principal, limit: int = 200) -> list[MailMessage]:
    """The newest mail in the outbox, sent or not; the operator's only."""
    if not actor.is_operator:
        raise Forbidden("kun operatøren kan se den udgående post")
    return list(session.scalars(sa.select(MailMessage)
                                .order_by(MailMessage.id.desc()).limit(limit)))
