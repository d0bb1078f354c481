"""`marketplace notifications send|catcher`: the mail outbox and the development catcher."""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from marketplace.notifications import runner
from marketplace.ops import shutdown


@click.group("notifications")
def notifications() -> None:
    """Notification reminders and the mail outbox."""


@notifications.command("send")
@click.option("--loop", is_flag=True, help="Keep sending as mail arrives, until stopped.")
@click.option("--poll-seconds", default=5.0, show_default=True, type=click.FloatRange(0.5, 600))
@with_appcontext
def send(loop: bool, poll_seconds: float) -> None:
    """Produce due reminders and send the mail outbox (prints what was sent as JSON)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    name = f"mail-{socket.gethostname()}-{os.getpid()}"
    if not loop:
        reminded = runner.run_reminders(app)
        report = runner.send_mail(app, worker=name)
        click.echo(json.dumps({"reminded": reminded,
                               "mail": report.to_json() if report else None}))
        return
    shutdown.install_stop_handlers()
    sent = 0
    while not shutdown.stop_requested():
        sent += runner.tick(app, worker=name)
        shutdown.wait(poll_seconds)
    click.echo(json.dumps({"sent": sent, "stopped": True}))


@notifications.command("catcher")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(1, 65535))
@with_appcontext
def catcher(port: int) -> None:
    """Run the development SMTP catcher on 127.0.0.1 (never in production)."""
    if current_app.config["ENV"] == "production":
        raise click.ClickException("the mail catcher is for development only")
    from marketplace.notifications.devmail import start_catcher

    folder = Path(current_app.instance_path) / "dev-mail"
    controller, _mailbox = start_catcher(port, folder)
    click.echo(f"development mail catcher on 127.0.0.1:{port}, keeping mail in {folder}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
