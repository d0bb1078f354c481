"""A state probe rereads the state after a write of this process and when its age runs out,
and answers from what it read otherwise (no round trip)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace import freshness
from marketplace.catalog.models import Dataset
from marketplace.identity.models import Organisation


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch):
    reads: list[int] = []

    def read(session) -> tuple:
        reads.append(1)
        return (session.scalar(sa.select(sa.func.count(Organisation.id))),)

    clock = [1000.0]
    monkeypatch.setattr(freshness.time, "monotonic", lambda: clock[0])
    return freshness.StateProbe(read, Organisation, max_age=1.0), reads, clock


def test_the_state_is_read_once_within_its_age(session, probe) -> None:
    check, reads, clock = probe
    first = check(session)
    clock[0] += 0.5
    assert check(session) == first
    assert len(reads) == 1
    clock[0] += 0.6
    check(session)
    assert len(reads) == 2


def test_a_write_of_this_process_is_seen_at_once(session, probe, make_org) -> None:
    check, _reads, _clock = probe
    (before,) = check(session)
    make_org("company", slug="ny-virksomhed")
    session.flush()
    assert check(session) == (before + 1,)


def test_a_write_of_an_unwatched_model_keeps_the_state(session, make_org) -> None:
    reads: list[int] = []

    def read(session) -> tuple:
        reads.append(1)
        return (session.scalar(sa.select(sa.func.count(Dataset.id))),)

    check = freshness.StateProbe(read, Dataset, max_age=60.0)
    check(session)
    make_org("company", slug="en-virksomhed")
    session.flush()
    check(session)
    assert len(reads) == 1
