"""Data versions prepared for counting: decrypted into memory once, kept while in use.

The stored Parquet is decrypted into one buffer and read as categorical columns; nothing clear
is ever written to disk. The subject column's CPR numbers are never read: persons are numbered
by their blind index (`_subject_key`), and consent is evaluated once per person.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

import numpy as np
import pandas as pd

from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import DataVersion
from marketplace.security import Keyring

SUBJECT_KEY = "_subject_key"
CACHE_SIZE = 3
_ALL_ROWS = 1 << 62  # read a version as one frame: dictionaries are unified once


@dataclass(eq=False)
class PreparedVersion:
    """One data version's countable columns, its persons and what was derived from them."""

    sha256: str
    frame: pd.DataFrame
    person: np.ndarray | None  # per row: index into `subject_keys`, -1 when missing
    subject_keys: pd.Series | None  # the distinct blind indexes
    derived: dict[tuple, object] = field(default_factory=dict)
    lock: Lock = field(default_factory=Lock)

    @property
    def rows(self) -> int:
        return len(self.frame)

    def remember(self, key: tuple, compute: Callable[..., object]) -> object:
        """Compute something about this version once (group domains, consent masks)."""
        with self.lock:
            if key in self.derived:
                return self.derived[key]
        value = compute()
        with self.lock:
            self.derived[key] = value
            while len(self.derived) > 64:
                self.derived.pop(next(iter(self.derived)))
        return value


_versions: OrderedDict[str, PreparedVersion] = OrderedDict()
_lock = Lock()


def countable_columns(columns: Sequence[Mapping]) -> list[str]:
    """The columns statistics may read: everything but direct identifiers."""
    return [c["name"] for c in columns if c.get("role") != "direct_identifier"]


def prepared_version(version: DataVersion, *, columns: Sequence[Mapping], has_subject: bool,
                     keyring: Keyring, data_dir: Path) -> PreparedVersion:
    """The version decrypted and prepared (cached per content hash; raise Invalid when the
    stored file was tampered with)."""
    sha = str(version.sha256)
    with _lock:
        if sha in _versions:
            _versions.move_to_end(sha)
            return _versions[sha]
    wanted = countable_columns(columns) + ([SUBJECT_KEY] if has_subject else [])
    frames = list(catalog_services.read_version_frames(
        version, keyring=keyring, data_dir=data_dir, columns=wanted, batch_rows=_ALL_ROWS))
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    for column in columns:
        # Few birth dates among many rows: ages and age bands are computed once per date.
        if column.get("concept") == "birth_date" and column["name"] in frame \
                and not isinstance(frame[column["name"]].dtype, pd.CategoricalDtype):
            frame[column["name"]] = frame[column["name"]].astype("category")
    person = keys = None
    if has_subject and SUBJECT_KEY in frame:
        subject = frame.pop(SUBJECT_KEY)
        if not isinstance(subject.dtype, pd.CategoricalDtype):
            subject = subject.astype("category")
        person = subject.cat.codes.to_numpy().astype(np.int32)
        keys = pd.Series(subject.cat.categories.astype(str))
    prepared = PreparedVersion(sha256=sha, frame=frame, person=person, subject_keys=keys)
    with _lock:
        _versions[sha] = prepared
        while len(_versions) > CACHE_SIZE:
            _versions.popitem(last=False)
    return prepared
