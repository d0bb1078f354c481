"""`marketplace worker [--once]`: builds queued extracts (with a progress bar per extract), runs
queued workspace jobs, and when idle produces reminders and sends the mail outbox."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from marketplace import audit, composition
from marketplace.delivery import jobs
from marketplace.notifications import runner as notifications
from marketplace.ops import shutdown
from marketplace.workspace import jobs as workspace_jobs


@click.command("worker")
@click.option("--once", is_flag=True,
              help="Build every waiting extract and run every waiting job, then exit.")
@click.option("--poll-seconds", default=2.0, show_default=True, type=click.FloatRange(0.1, 60))
@with_appcontext
def worker(once: bool, poll_seconds: float) -> None:
    """Run queued extract and workspace jobs (and take over jobs whose worker stopped)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    name = jobs.worker_name()
    # Prepared data of a worker that died must not stay on disk.
    workspace_jobs.clean_stale_folders(app)
    composition.remove_leftovers(app.extensions["marketplace.sessionmaker"],
                                 data_dir=Path(app.config["DATA_DIR"]))
    built = 0
    bars: dict[int, tqdm] = {}

    def show(extract_id: int, fraction: float) -> None:
        bar = bars.get(extract_id)
        if bar is None:
            bar = bars[extract_id] = tqdm(total=100, desc=f"extract {extract_id}", unit="%")
        bar.update(round(fraction * 100) - bar.n)

    # SIGTERM (a deploy, a scale-down) lets the running extract finish, then exits 0.
    shutdown.install_stop_handlers()
    while not shutdown.stop_requested():
        extract_id = jobs.run_next(app, worker=name, on_progress=show)
        for bar in bars.values():
            bar.close()
        bars.clear()
        if extract_id is not None:
            built += 1
            continue
        if workspace_jobs.run_next(app, worker=name) is not None:
            built += 1
            continue
        # Idle: reminders now and then, the mail the finished work produced, and audit
        # entries that a killed process committed but never sealed.
        notifications.tick(app, worker=name)
        audit.seal_committed(app.extensions["marketplace.engine"],
                             app.extensions["marketplace.keyring"].audit_key)
        if once:
            click.echo(json.dumps({"processed": built}))
            return
        shutdown.wait(poll_seconds)
    click.echo(json.dumps({"processed": built, "stopped": True}))
