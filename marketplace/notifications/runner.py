"""The edge that produces reminders and sends the mail outbox (`marketplace worker`,
`marketplace notifications send`).

Reminders come from the domains that know the deadlines (access's review clock); create_app
hands them over in `app.extensions["marketplace.reminders"]`, as this domain sits below them.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from flask import Flask
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.db import session_scope, utcnow
from marketplace.notifications import mailer

log = logging.getLogger(__name__)

Reminder = Callable[[Session, datetime], int]
REMINDER_INTERVAL_SECONDS = 600.0
_last_reminders: dict[int, float] = {}


def run_reminders(app: Flask, *, now: datetime | None = None) -> int:
    """Produce every reminder that is due now; return how many people were told.

    Two processes reminding at the same moment cannot both tell someone (the reminder's key is
    unique per person): the one that loses rolls back, and the next round finds it done.
    """
    told = 0
    for reminder in app.extensions.get("marketplace.reminders", ()):
        try:
            with session_scope(app) as session:
                told += reminder(session, now or utcnow())
        except IntegrityError:
            log.info("another process produced the same reminders; leaving them to it")
    return told


def send_mail(app: Flask, *, worker: str,
              transport: mailer.Transport | None = None) -> mailer.SendReport | None:
    """Send the outbox; None when no SMTP server is configured (mail stays in the inbox)."""
    settings = mailer.settings_from(app.config)
    if settings is None:
        return None
    return mailer.send_due(app.extensions["marketplace.sessionmaker"], settings, worker=worker,
                           transport=transport)


def tick(app: Flask, *, worker: str) -> int:
    """One idle round of a worker: reminders now and then, then the mail due; return mails sent.

    Reminders are looked for at most every ten minutes per process: they are once per case
    anyway, and the query is not free.
    """
    key = id(app)
    try:
        if time.monotonic() - _last_reminders.get(key, -REMINDER_INTERVAL_SECONDS) \
                >= REMINDER_INTERVAL_SECONDS:
            _last_reminders[key] = time.monotonic()
            run_reminders(app)
        report = send_mail(app, worker=worker)
    except Exception as error:  # mail trouble must not stop the worker's extracts and jobs
        log.exception("notifications round failed: %s", type(error).__name__)
        return 0
    return report.sent if report else 0
