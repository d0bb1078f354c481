"""How fresh an in-process copy of some rows is, asked without a round trip on every request.

Hot public reads (the catalog search, the public register) answer from copies each process
keeps, and reread a small "state" row (counts and newest times) to see whether the copy is
still current. `StateProbe` rereads that state at most every `max_age` seconds, and at once
after this process writes a change to one of the watched models (through the ORM); a change
committed by another process shows within `max_age`.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.db import on_rows_inserted

_watched: list[tuple[tuple[type, ...], list[int]]] = []
_CHANGED = "freshness.changed"


def _note_changes(session: Session, _context: Any) -> None:
    # Counted at the flush (a reader sharing this connection sees the rows now) and again at
    # the commit (other connections see them from then on).
    _note(session, session.new | session.dirty | session.deleted)


def _note(session: Session, touched: Collection[object]) -> None:
    if not touched:
        return
    changed = session.info.setdefault(_CHANGED, set())
    for index, (models, commits) in enumerate(_watched):
        if any(isinstance(row, models) for row in touched):
            changed.add(index)
            commits[0] += 1


def _count_commit(session: Session) -> None:
    for index in session.info.pop(_CHANGED, ()):
        _watched[index][1][0] += 1


def _forget_changes(session: Session) -> None:
    session.info.pop(_CHANGED, None)


sa.event.listen(Session, "after_flush", _note_changes)
on_rows_inserted(_note)
sa.event.listen(Session, "after_commit", _count_commit)
sa.event.listen(Session, "after_rollback", _forget_changes)


class StateProbe:
    """Reads a state with `read(session)`, again only when `max_age` has passed or this process
    committed a change to one of `models` since (per database)."""

    def __init__(self, read: Callable[[Session], tuple[Any, ...]], *models: type,
                 max_age: float = 1.0) -> None:
        self.read = read
        self.max_age = max_age
        self._commits = [0]
        _watched.append((models, self._commits))
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, int, tuple[Any, ...]]] = {}

    def __call__(self, session: Session) -> tuple[Any, ...]:
        database = str(session.get_bind().engine.url)
        now, commits = time.monotonic(), self._commits[0]
        known = self._known.get(database)
        if known is not None and now - known[0] < self.max_age and known[1] == commits:
            return known[2]
        state = self.read(session)
        with self._lock:
            self._known[database] = (now, commits, state)
        return state
