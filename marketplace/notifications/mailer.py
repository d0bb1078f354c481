"""Sending the mail outbox over SMTP, outside the transactions that wrote it.

Each message is leased and committed before it is handed to the SMTP server, and marked sent
in its own commit right after the server accepted it. A message whose sender died is taken over
when its lease runs out, so no message is lost; a crash in the moment between the server's
acceptance and that commit is the only way a message goes out twice, and it then carries the
same Message-ID, which lets mail systems recognise the copy. Temporary failures (the server
down, a 4xx answer) are retried with growing pauses; a refused recipient fails the message at
once.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from marketplace.db import utcnow
from marketplace.languages import translate
from marketplace.notifications.models import MailMessage

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
RETRY_PAUSES = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
                timedelta(hours=1), timedelta(hours=3), timedelta(hours=6), timedelta(hours=12))
SMTP_TIMEOUT = 30


@dataclass(frozen=True)
class MailSettings:
    server: str
    port: int
    sender: str
    username: str | None
    password: str | None
    use_tls: bool
    public_url: str


def settings_from(config: Any) -> MailSettings | None:
    """The SMTP settings from MARKETPLACE_MAIL_*; None when no server is set (inbox only)."""
    server = config.get("MAIL_SERVER")
    if not server:
        return None
    return MailSettings(
        server=str(server), port=int(config.get("MAIL_PORT") or 25),
        sender=str(config.get("MAIL_FROM") or "noreply@marketplace.invalid"),
        username=config.get("MAIL_USERNAME") or None,
        password=config.get("MAIL_PASSWORD") or None,
        use_tls=_flag(config.get("MAIL_USE_TLS")),
        public_url=str(config.get("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/"))


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def compose(message: MailMessage, settings: MailSettings) -> EmailMessage:
    """The e-mail as it leaves: the stored text, a link to the object and to the choices."""
    language = message.language
    mail = EmailMessage()
    mail["From"] = formataddr((translate("Sundhedsdatamarkedspladsen", language),
                               settings.sender))
    mail["To"] = message.to_address
    mail["Subject"] = message.subject
    domain = settings.sender.rpartition("@")[2] or "marketplace.invalid"
    mail["Message-ID"] = f"<{message.message_token}@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    lines = [message.body, "",
             translate("Se mere: {link}", language, link=settings.public_url + message.link),
             "", "-- ",
             translate("Du får denne besked fra Sundhedsdatamarkedspladsen. Vælg hvilke "
                       "beskeder du får: {link}", language,
                       link=settings.public_url + "/notifications/settings")]
    mail.set_content("\n".join(lines))
    return mail


Transport = Callable[[EmailMessage], None]


def smtp_transport(settings: MailSettings) -> Transport:
    """Hand one message to the configured SMTP server (STARTTLS and login when configured)."""

    def send(mail: EmailMessage) -> None:
        if settings.port == 465:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.server, settings.port,
                                                  timeout=SMTP_TIMEOUT,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.server, settings.port, timeout=SMTP_TIMEOUT)
        with smtp:
            if settings.use_tls and settings.port != 465:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(mail)

    return send


def claim_next(session: Session, *, worker: str, now: datetime) -> MailMessage | None:
    """Lease the oldest message due: waiting, or leased by a sender whose lease ran out."""
    due = sa.or_(
        sa.and_(MailMessage.status == "pending", MailMessage.next_attempt_at <= now),
        sa.and_(MailMessage.status == "sending", MailMessage.lease_expires_at < now))
    query = sa.select(MailMessage).where(due).order_by(MailMessage.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    message = session.scalar(query)
    if message is None:
        return None
    message.status, message.attempts = "sending", message.attempts + 1
    message.lease_owner, message.lease_expires_at = worker, now + LEASE
    session.flush()
    return message


def _permanent(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return True
    code = getattr(error, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


def record_failure(message: MailMessage, error: Exception, *, now: datetime) -> None:
    """Retry later after a temporary failure; give up on a refusal or after MAX_ATTEMPTS."""
    message.lease_owner = message.lease_expires_at = None
    message.last_error = f"{type(error).__name__}: {error}"[:500]
    if _permanent(error) or message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
        return
    pause = RETRY_PAUSES[min(message.attempts, len(RETRY_PAUSES)) - 1]
    message.status, message.next_attempt_at = "pending", now + pause


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def to_json(self) -> dict[str, int]:
        return {"sent": self.sent, "retrying": self.retrying, "failed": self.failed}


def send_due(make_session: sessionmaker[Session], settings: MailSettings, *, worker: str,
             transport: Transport | None = None, limit: int = 500) -> SendReport:
    """Send every message due now (at most `limit`), each in its own lease and commits."""
    transport = transport or smtp_transport(settings)
    report = SendReport()
    for _ in range(limit):
        session = make_session()
        try:
            message = claim_next(session, worker=worker, now=utcnow())
            session.commit()
            if message is None:
                break
            try:
                transport(compose(message, settings))
            except OSError as error:  # smtplib.SMTPException and timeouts are OSErrors
                record_failure(message, error, now=utcnow())
                session.commit()
                log.warning("mail %s not sent (attempt %s): %s", message.id, message.attempts,
                            type(error).__name__)
                if message.status == "failed":
                    report.failed += 1
                else:
                    report.retrying += 1
                if not isinstance(error, smtplib.SMTPException):
                    break  # the server cannot be reached: the others wait for the next run
                continue
            message.status, message.sent_at = "sent", utcnow()
            message.lease_owner = message.lease_expires_at = None
            message.last_error = None
            session.commit()
            report.sent += 1
        finally:
            session.close()
    return report
