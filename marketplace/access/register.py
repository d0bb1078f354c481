"""The public register of approved data uses (EHDS Art. 57) as the API serves it.

The register is public and read far more often than it changes, so each process keeps the
pages it has served. A kept page is served again while the register's state is unchanged (no
permit issued or revoked, no dataset retitled, no result released; a change made by another
process is seen within a second) and no permit on it has run out since; an organisation's new
name reaches it within MAX_AGE.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.access import serialise, services
from marketplace.access.models import Permit
from marketplace.access.paging import Paging
from marketplace.access.ports import AccessEngine, ReleasedState
from marketplace.catalog.models import Dataset
from marketplace.db import Base
from marketplace.freshness import StateProbe

MAX_AGE = timedelta(seconds=30)
MAX_KEPT_PAGES = 64


@dataclass(frozen=True)
class _KeptPage:
    state: tuple[Any, ...]
    until: datetime
    body: bytes


_kept: dict[tuple[str, int, int], _KeptPage] = {}
_lock = threading.Lock()


_probes: dict[ReleasedState, StateProbe] = {}


def _state_probe(released_state: ReleasedState) -> StateProbe:
    """The register's state: one row that moves whenever a permit is issued or revoked, a
    dataset changes or a result is released, reread after any write of this process and at
    least every second (the query is built once: building it costs as much as running it)."""
    probe = _probes.get(released_state)
    if probe is None:
        permits = sa.select(sa.func.count(Permit.id), sa.func.max(Permit.id),
                            sa.func.max(Permit.revoked_at)).subquery()
        datasets = sa.select(sa.func.count(Dataset.id),
                             sa.func.max(Dataset.updated_at)).subquery()
        released = released_state().subquery()
        # Three one-row aggregates side by side.
        query = sa.select(permits, datasets, released).select_from(
            permits.join(datasets, sa.true()).join(released, sa.true()))
        probe = _probes[released_state] = StateProbe(
            lambda session: tuple(session.execute(query).one()), Base)
    return probe


def register_page(session: Session, *, paging: Paging, engine: AccessEngine,
                  now: datetime) -> bytes:
    """One page of the register as JSON text: the permits, newest first, with released
    results (kept encoded: encoding a page costs more than finding it)."""
    state = _state_probe(engine.released_state)(session)
    key = (str(session.get_bind().engine.url), paging.page, paging.per_page)
    kept = _kept.get(key)
    if kept is not None and kept.state == state and now < kept.until:
        return kept.body
    page = services.page_register(session, paging=paging, now=now)
    released = engine.released_results(session, permit_ids=[r.permit.id for r in page.items])
    body = json.dumps({
        "items": [serialise.register_row_to_json(row)
                  | {"released_outputs": released.get(row.permit.id, [])} for row in page.items],
        "total": page.total, "page": page.page, "per_page": page.per_page},
        ensure_ascii=False, separators=(",", ":")).encode()
    # An active permit on the page turns "expired" at its end: serve the page afresh then.
    until = min([now + MAX_AGE] + [row.permit.valid_until for row in page.items
                                   if row.status == "active"])
    with _lock:
        if len(_kept) >= MAX_KEPT_PAGES:
            _kept.clear()
        _kept[key] = _KeptPage(state, until, body)
    return body
