"""SIGTERM stops the job worker cleanly: the job under way is finished, nothing new is taken."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.delivery import services as delivery_services
from marketplace.delivery.models import Extract
from marketplace.worker import worker
from tests.delivery.conftest import upload, world  # noqa: F401  (the delivery test world)
from tests.ops.conftest import MARKETPLACE


@pytest.mark.slow
def test_an_idle_worker_exits_0_on_sigterm_without_waiting_out_its_poll(installation) -> None:
    process = subprocess.Popen([*MARKETPLACE, "worker", "--poll-seconds", "60"],
                               env=installation, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 90
        for line in process.stderr:
            if "waiting for jobs" in line:
                break
            assert time.monotonic() < deadline, "the worker never started"
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert time.monotonic() - sent < 30  # it did not sleep out its 60 s poll
        assert json.loads(process.stdout.read() if process.stdout else "") == {
            "processed": 0, "stopped": True}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigterm_during_a_job_finishes_it_and_takes_no_other(app, session,
                                                           world) -> None:  # noqa: F811
    permit = world.make_permit()
    first, second = (delivery_services.request_extract(
        session, actor=world.company_actor, permit_id=permit.id, dataset_id=None, now=utcnow())
        for _ in range(2))
    session.commit()
    signalled: list[int] = []

    def terminate_when_running(_mapper: Any, _connection: Any, target: Extract) -> None:
        if target.status == "running" and not signalled:
            signalled.append(target.id)
            os.kill(os.getpid(), signal.SIGTERM)  # as a supervisor stopping the worker would

    previous = signal.getsignal(signal.SIGTERM)
    sa.event.listen(Extract, "after_update", terminate_when_running)
    try:
        result = app.test_cli_runner().invoke(worker, ["--poll-seconds", "0.1"])
    finally:
        sa.event.remove(Extract, "after_update", terminate_when_running)
    assert result.exit_code == 0, result.output
    printed = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert json.loads(printed[-1]) == {"processed": 1, "stopped": True}
    session.expire_all()
    statuses = {e.id: session.get(Extract, e.id).status for e in (first, second)}
    assert statuses[signalled[0]] == "succeeded"
    assert sorted(statuses.values()) == ["queued", "succeeded"]
    assert signal.getsignal(signal.SIGTERM) is previous  # the command gave the handler back
