"""Fixtures of the notification tests: the access world, an SMTP server on loopback, and a
look at what reached whom."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.identity.models import User
from marketplace.notifications.devmail import Mailbox, start_catcher
from marketplace.notifications.models import MailMessage, Notification
from tests.access.conftest import cohort_sizes, make_dataset, world  # noqa: F401 - fixtures
from tests.growth.conftest import as_user, growth  # noqa: F401 - fixtures


def told(session: Session, user: User, kind: str | None = None) -> list[Notification]:
    """The notifications `user` got (of `kind`), oldest first."""
    query = sa.select(Notification).where(Notification.user_id == user.id)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    return list(session.scalars(query.order_by(Notification.id)))


def mail_to(session: Session, user: User) -> list[MailMessage]:
    return list(session.scalars(sa.select(MailMessage).where(
        MailMessage.to_address == user.email).order_by(MailMessage.id)))


class SmtpServer:
    def __init__(self, controller: Any, mailbox: Mailbox) -> None:
        self.controller, self.mailbox = controller, mailbox

    @property
    def port(self) -> int:
        return int(self.controller.port)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port, keeping what it receives."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller, mailbox = start_catcher(port)
    try:
        yield SmtpServer(controller, mailbox)
    finally:
        controller.stop()
