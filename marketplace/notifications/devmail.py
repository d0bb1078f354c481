"""The development mail catcher: a real SMTP server on loopback that keeps what it receives.

`make run` starts it (`marketplace notifications catcher`) and points MARKETPLACE_MAIL_* at it,
so mail from a development instance never reaches a real mailbox.
"""
from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any


class Mailbox:
    """An aiosmtpd handler keeping every message received (and writing it to `folder`)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        mail = message_from_bytes(raw, policy=policy.default)
        with self._lock:
            self.messages.append(mail)
            self.recipients.append(list(envelope.rcpt_tos))
            number = len(self.messages)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{number:05d}.eml").write_bytes(raw)
        return "250 Message accepted for delivery"


def start_catcher(port: int, folder: Path | None = None) -> tuple[Any, Mailbox]:
    """Start the catcher on 127.0.0.1:`port` (0: a free port); return (controller, mailbox)."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox(folder)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, mailbox
