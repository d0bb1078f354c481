"""`marketplace worker --once` builds waiting extracts and reports them."""
from __future__ import annotations

from marketplace.db import utcnow
from marketplace.delivery import services
from marketplace.delivery.models import Extract
from marketplace.worker import worker


def test_worker_once_drains_the_queue(app, session, world):
    permit = world.make_permit()
    first = services.request_extract(session, actor=world.company_actor, permit_id=permit.id,
                                     dataset_id=None, now=utcnow())
    second = services.request_extract(session, actor=world.company_actor, permit_id=permit.id,
                                      dataset_id=None, now=utcnow())
    session.commit()
    result = app.test_cli_runner().invoke(worker, ["--once"])
    assert result.exit_code == 0, result.output
    assert "{\"processed\": 2}" in result.output
    session.expire_all()
    assert {session.get(Extract, e.id).status for e in (first, second)} == {"succeeded"}


def test_worker_once_with_nothing_to_do(app):
    result = app.test_cli_runner().invoke(worker, ["--once"])
    assert result.exit_code == 0 and "{\"processed\": 0}" in result.output
