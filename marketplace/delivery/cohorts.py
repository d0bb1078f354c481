"""How many people an application's cohort holds: the estimate the access engine decides on.

Every application asks this for its datasets, in one call whose one round trip reads their
current versions and the consent state; the work that does not depend on the application is
done once per data version and kept in-process, bounded:

- the version's cohort columns are decrypted once, the subject keys turned into small integer
  codes and ages computed once per day (the birth date column becomes an age column);
- which people consent allows is evaluated once per consent state (the snapshot's
  fingerprint) over the distinct subjects, not over every row.

A new data version has a new hash and a consent change a new fingerprint, so neither needs an
explicit invalidation: stale entries simply stop being asked for and age out.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from threading import Lock
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Dataset, DataVersion
from marketplace.consent import evaluation as consent_evaluation
from marketplace.consent import services as consent_services
from marketplace.db import column_rows
from marketplace.delivery import generalise, pipeline
from marketplace.errors import Conflict, DomainError
from marketplace.security import Keyring
from marketplace.statements import DriverStatement

AGE_COLUMN = "__age"
_MAX_FRAME_BYTES = 512 * 1024 * 1024  # decoded cohort columns kept per process, all versions

V = TypeVar("V")


class _Lru(Generic[V]):
    """A thread-safe least-recently-used map bounded by entries and, optionally, by bytes."""

    def __init__(self, *, entries: int, max_bytes: int | None = None) -> None:
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._entries, self._max_bytes, self._bytes = entries, max_bytes, 0
        self._lock = Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: V, *, size: int = 0) -> V:
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self._bytes += size
            while len(self._items) > 1 and (
                    len(self._items) > self._entries
                    or (self._max_bytes is not None and self._bytes > self._max_bytes)):
                self._bytes -= self._items.popitem(last=False)[1][1]
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


@dataclass(frozen=True)
class DecodedVersion:
    """A data version's cohort columns, decoded, with each row's subject as an integer code."""

    frame: pd.DataFrame
    subject_codes: np.ndarray | None  # per row, into `subjects`; -1 without a subject
    subjects: pd.Index | None  # the distinct subject keys


@dataclass(frozen=True)
class CohortColumns:
    """The decoded version as of one day: its birth dates turned into ages."""

    version: DecodedVersion
    frame: pd.DataFrame  # shares the decoded columns; adds the age column
    columns: list[dict[str, Any]]  # the descriptor's columns, with the age concept


_versions: _Lru[DecodedVersion] = _Lru(entries=64, max_bytes=_MAX_FRAME_BYTES)
_days: _Lru[CohortColumns] = _Lru(entries=64)
_consent: _Lru[np.ndarray] = _Lru(entries=1024)
_estimates: _Lru[int] = _Lru(entries=4096)


def clear_caches() -> None:
    """Forget every kept version, consent verdict and estimate (for measurements)."""
    for cache in (_versions, _days, _consent, _estimates):
        cache.clear()


def warm(session: Session, *, keyring: Keyring, data_dir: Path) -> int:
    """Decode every published dataset's current version into the cache; return how many.

    A server does this once before it starts its worker processes: they then share the
    decoded columns, and the first applications after a start do not wait for decryption.
    """
    decoded = 0
    for dataset in catalog_services.list_published_datasets(session):
        version = catalog_services.current_version(session, dataset=dataset)
        if version is None or not version.sha256:
            continue
        try:
            _decoded(session, version, dataset, keyring=keyring, data_dir=data_dir)
        except DomainError:
            continue  # an unreadable version is refused when an application asks for it
        decoded += 1
    return decoded


class VersionRef(Protocol):
    """A data version as far as the caches need it: its id and its content's hash."""

    @property
    def id(self) -> int: ...

    @property
    def sha256(self) -> str | None: ...


def _decoded(session: Session, ref: VersionRef, dataset: Dataset, *, keyring: Keyring,
             data_dir: Path) -> DecodedVersion:
    """The version's cohort columns and subject codes, decrypted once and kept."""
    found = _versions.get(ref.sha256)
    if found is not None:
        return found
    version = session.get(DataVersion, ref.id)
    if version is None or version.sha256 != ref.sha256:
        raise Conflict("datasættet har ingen gyldig dataversion")
    wanted = [c["name"] for c in dataset.columns if c.get("concept")]
    if dataset.subject_column:
        wanted.append(pipeline.SUBJECT_KEY)
    frame = pd.concat(list(catalog_services.read_version_frames(
        version, keyring=keyring, data_dir=data_dir, columns=wanted)), ignore_index=True)
    subject_codes = subjects = None
    if pipeline.SUBJECT_KEY in frame:
        codes, uniques = pd.factorize(frame[pipeline.SUBJECT_KEY], sort=False)
        subject_codes, subjects = codes.astype(np.int64), pd.Index(uniques)
    decoded = DecodedVersion(frame, subject_codes, subjects)
    return _versions.put(version.sha256, decoded,
                         size=int(frame.memory_usage(deep=True).sum()))


def _cohort_columns(session: Session, version: VersionRef, dataset: Dataset, *, on: date,
                    keyring: Keyring, data_dir: Path) -> CohortColumns:
    """The version's cohort columns as of a day (ages are whole years on that day)."""
    key = (version.sha256, on)
    found = _days.get(key)
    if found is not None:
        return found
    decoded = _decoded(session, version, dataset, keyring=keyring, data_dir=data_dir)
    frame = decoded.frame.copy(deep=False)
    columns = [dict(column) for column in dataset.columns]
    birth = pipeline.concept_column(columns, "birth_date")
    if birth and not pipeline.concept_column(columns, "age") and birth in frame:
        # Computed once per distinct birth date; the age criterion then compares numbers.
        codes, dates = pd.factorize(pd.to_datetime(frame[birth], errors="coerce"), sort=False)
        ages = generalise.age_years(pd.Series(dates), on).to_numpy(dtype="float64")
        frame[AGE_COLUMN] = np.where(codes >= 0, ages[np.maximum(codes, 0)], np.nan)
        columns.append({"name": AGE_COLUMN, "concept": "age"})
    return _days.put(key, CohortColumns(decoded, frame, columns))


def _consented(version: VersionRef, decoded: DecodedVersion, snapshot: Any,
               consent_model: str) -> np.ndarray:
    """Per distinct subject: may consent include them (kept per consent state)?"""
    key = (version.sha256, snapshot.fingerprint, consent_model)
    found = _consent.get(key)
    if found is not None:
        return found
    verdict = np.asarray(consent_evaluation.included_mask(
        pd.Series(decoded.subjects), snapshot, consent_model=consent_model), dtype=bool)
    return _consent.put(key, verdict)


def estimate_cohort_sizes(session: Session, *, datasets: Sequence[Dataset],
                          cohort: dict[str, Any], purpose: str, as_of: datetime,
                          keyring: Keyring, data_dir: Path) -> dict[int, int | None]:
    """Distinct citizens per dataset in its current data version passing the consent and
    cohort filters; None where that cannot be known (no valid data version, an unreadable or a
    tampered one).

    One round trip reads every dataset's current version and the consent state together.
    """
    versions, state = _current_versions(session, datasets)
    sizes: dict[int, int | None] = {}
    for dataset in datasets:
        try:
            sizes[dataset.id] = _estimate(
                session, dataset=dataset, version=versions.get(dataset.id), state=state,
                cohort=cohort, purpose=purpose, as_of=as_of, keyring=keyring, data_dir=data_dir)
        except DomainError:
            sizes[dataset.id] = None
    return sizes


def estimate_cohort_size(session: Session, *, dataset: Dataset, cohort: dict[str, Any],
                         purpose: str, as_of: datetime, keyring: Keyring, data_dir: Path) -> int:
    """Distinct citizens in the current data version passing the consent and cohort filters.

    Raises Conflict when the dataset has no valid data version, Invalid when it is unreadable.
    """
    versions, state = _current_versions(session, [dataset])
    return _estimate(session, dataset=dataset, version=versions.get(dataset.id), state=state,
                     cohort=cohort, purpose=purpose, as_of=as_of, keyring=keyring,
                     data_dir=data_dir)


# Built once: making the statement costs more than running it.
_CURRENT_VERSIONS_AND_CONSENT = DriverStatement(catalog_services.CURRENT_VERSIONS.add_columns(
    *consent_services.consent_state_columns()))


def _current_versions(session: Session, datasets: Sequence[Dataset]
                      ) -> tuple[dict[int, VersionRef], consent_services.ConsentState | None]:
    """The datasets' current versions and, in the same query, the consent state (None when no
    dataset has a version: then nothing needs it)."""
    rows = column_rows(session, _CURRENT_VERSIONS_AND_CONSENT,
                       {"dataset_ids": sorted({dataset.id for dataset in datasets})})
    if not rows:
        return {}, None
    revision, latest_at = rows[0][-2:]
    state = consent_services.ConsentState(int(revision or 0), latest_at)
    return {row.dataset_id: row for row in rows}, state


def _estimate(session: Session, *, dataset: Dataset, version: VersionRef | None,
              state: consent_services.ConsentState | None, cohort: dict[str, Any], purpose: str,
              as_of: datetime, keyring: Keyring, data_dir: Path) -> int:
    if version is None or not version.sha256 or state is None:
        raise Conflict("datasættet har ingen gyldig dataversion")
    snapshot = consent_services.consent_snapshot(
        session, purpose=purpose, holder_org_id=dataset.publisher_org_id,
        dataset_id=dataset.id, as_of=as_of, state=state)
    on = as_of.date()
    key = (version.sha256, json.dumps(cohort or {}, sort_keys=True, default=str),
           dataset.consent_model, snapshot.fingerprint, on)
    found = _estimates.get(key)
    if found is not None:
        return found
    kept = _cohort_columns(session, version, dataset, on=on, keyring=keyring, data_dir=data_dir)
    mask = pipeline.cohort_mask(kept.frame, columns=kept.columns, cohort=cohort,
                                reference_date=on)
    decoded = kept.version
    if decoded.subject_codes is None or decoded.subjects is None:
        return _estimates.put(key, int(mask.sum()))
    codes = decoded.subject_codes[mask & (decoded.subject_codes >= 0)]
    present = np.zeros(len(decoded.subjects), dtype=bool)
    present[codes] = True
    present &= _consented(version, decoded, snapshot, dataset.consent_model)
    return _estimates.put(key, int(present.sum()))
