"""Database models of notifications: the inbox, the mail outbox and each person's choices.

A notification and its mail are written in the transaction of the event they tell about, so
an event that rolls back leaves neither; the mail leaves the platform later, from the outbox.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, JSONValue, UTCDateTime, created_at, intpk, utcnow

MAIL_STATUSES = ("pending", "sending", "sent", "failed")


class Notification(Base):
    """One event told to one staff member: shown in the inbox unless they chose otherwise.

    `dedupe_key` names an event that must reach a person only once (a deadline reminder per
    review task); the row is written even when the person wants neither inbox nor mail, so the
    reminder is not produced again.
    """

    __tablename__ = "notification"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "dedupe_key", name="uq_notification_user_id"),
        sa.Index("ix_notification_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    link: Mapped[str] = mapped_column(sa.String(300))
    in_inbox: Mapped[bool] = mapped_column(default=True)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(120))
    created_at: Mapped[created_at]
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailMessage(Base):
    """An e-mail in the outbox, rendered in the recipient's language when the event happened.

    A sender leases the message (`sending`, lease_expires_at), hands it to the SMTP server and
    marks it `sent`; a sender that dies leaves an expiring lease that the next one takes over.
    The Message-ID is fixed when the message is written, so a message handed over again after
    such a crash carries the same id.
    """

    __tablename__ = "mail_message"
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
        sa.Index("ix_mail_message_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[intpk]
    notification_id: Mapped[int] = mapped_column(
        sa.ForeignKey("notification.id", ondelete="CASCADE"), unique=True)
    to_address: Mapped[str] = mapped_column(sa.String(200))
    language: Mapped[str] = mapped_column(sa.String(2), default="da")
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str] = mapped_column(sa.String(300))
    message_token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[created_at]
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    notification: Mapped[Notification] = relationship()


class NotificationSettings(Base):
    """What one staff member wants told, by inbox and by mail, and in which language."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id", ondelete="CASCADE"),
                                         primary_key=True)
    language: Mapped[str] = mapped_column(sa.String(2), default="da")
    # Topics switched off; everything else is on, so a new topic reaches people by default.
    inbox_off: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    email_off: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
