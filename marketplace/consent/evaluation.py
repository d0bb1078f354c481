"""Consent evaluation: pure functions over consent events and subject keys.

A subject key is the citizen's CPR blind index (64 lowercase hex characters), the same value the
catalog stores per row in `_subject_key`, so evaluation never needs the CPR or a join.

Bulk evaluation works on fixed-width byte arrays: keys become numpy `S64` values plus a 64-bit
prefix (the first 16 hex digits) that is hashed for lookups. A prefix match is always confirmed
by comparing the whole key, so the result is exact; should two distinct keys ever share a prefix
the affected step falls back to comparing whole keys only.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PERMIT = "permit"
DENY = "deny"
CLEAR = "clear"
OPT_OUT = "opt_out"
OPT_OUT_WITHDRAWN = "opt_out_withdrawn"
CHOICE_DECISIONS = (PERMIT, DENY, CLEAR)
OPT_OUT_DECISIONS = (OPT_OUT, OPT_OUT_WITHDRAWN)
DECISIONS = CHOICE_DECISIONS + OPT_OUT_DECISIONS

SCOPE_ALL = "all"
SCOPE_HOLDER = "holder"
SCOPE_DATASET = "dataset"
SCOPE_TYPES = (SCOPE_ALL, SCOPE_HOLDER, SCOPE_DATASET)
# Most specific wins: a dataset choice beats a holder choice beats a choice for all holders.
SCOPE_RANK = {SCOPE_ALL: 0, SCOPE_HOLDER: 1, SCOPE_DATASET: 2}

CONSENT_MODELS = ("opt_in", "opt_out")
KEY_LENGTH = 64
EVENT_COLUMNS = ("subject_key", "at", "decision", "scope_type", "scope_id", "purpose")

_HEX_VALUE = np.zeros(256, dtype=np.uint8)
for _offset, _chars in ((0, b"0123456789"), (10, b"abcdef"), (10, b"ABCDEF")):
    _HEX_VALUE[np.frombuffer(_chars, dtype=np.uint8)] = np.arange(len(_chars)) + _offset
_PLACEHOLDER = "0" * KEY_LENGTH


def encode_keys(keys: pd.Series | Sequence[str] | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return (fixed-width `S64` keys, validity mask); missing or malformed keys are invalid."""
    array = _as_string_array(keys)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64, count=len(array) + 1,
                            offset=array.offset * 8)
    lengths_ok = np.diff(offsets) == KEY_LENGTH
    if array.null_count == 0 and lengths_ok.all():
        # Every key is 64 characters, so the character buffer already is an S64 array.
        encoded = np.frombuffer(array.buffers()[2], dtype=f"S{KEY_LENGTH}", count=len(array),
                                offset=int(offsets[0]))
        return encoded, lengths_ok
    valid = pc.fill_null(pc.equal(pc.binary_length(array), KEY_LENGTH), False)
    fixed = pc.if_else(valid, array, _PLACEHOLDER).cast(pa.binary()).cast(pa.binary(KEY_LENGTH))
    encoded = np.frombuffer(fixed.buffers()[1], dtype=f"S{KEY_LENGTH}", count=len(fixed),
                            offset=fixed.offset * KEY_LENGTH)
    return encoded, valid.to_numpy(zero_copy_only=False)


def _as_string_array(keys: pd.Series | Sequence[str] | pa.Array) -> pa.LargeStringArray:
    if isinstance(keys, pa.Array | pa.ChunkedArray):
        array = keys
    else:
        array = pa.array(keys, from_pandas=True, type=pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], pa.large_string())
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    return array


def key_prefixes(encoded: np.ndarray) -> np.ndarray:
    """The first 64 bits of each hex key as unsigned integers (vectorised hex decoding)."""
    digits = encoded.view(np.uint8).reshape(len(encoded), KEY_LENGTH)[:, :16]
    nibbles = _HEX_VALUE[digits]
    packed = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return np.ascontiguousarray(packed).view(">u8").ravel().astype(np.uint64)


def _group_codes(encoded: np.ndarray, prefixes: np.ndarray) -> np.ndarray:
    """An integer per row, equal exactly when the whole keys are equal."""
    codes, uniques = pd.factorize(prefixes)
    representative = np.empty(len(uniques), dtype=encoded.dtype)
    representative[codes] = encoded
    if np.array_equal(representative[codes], encoded):
        return codes
    codes, _ = pd.factorize(encoded.astype(object))
    return codes


@dataclass(frozen=True, eq=False)
class KeySet:
    """A set of subject keys with vectorised, exact membership tests."""

    keys: np.ndarray  # distinct S64 values (see unique_keys)

    @cached_property
    def _index(self) -> tuple[pd.Index, np.ndarray] | None:
        prefixes = key_prefixes(self.keys)
        index = pd.Index(prefixes)
        return (index, self.keys) if index.is_unique else None

    def contains(self, encoded: np.ndarray, prefixes: np.ndarray) -> np.ndarray:
        if len(self.keys) == 0 or len(encoded) == 0:
            return np.zeros(len(encoded), dtype=bool)
        if self._index is None:
            return np.isin(encoded, self.keys)
        index, keys = self._index
        position = index.get_indexer(prefixes)
        found = position >= 0
        found[found] = keys[position[found]] == encoded[found]
        return found

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        encoded, valid = encode_keys([key])
        return bool(valid[0] and self.contains(encoded, key_prefixes(encoded))[0])


def unique_keys(encoded: np.ndarray) -> np.ndarray:
    """The distinct keys, in first-seen order."""
    codes = _group_codes(encoded, key_prefixes(encoded))
    first = pd.Series(codes).drop_duplicates().index.to_numpy()
    return encoded[first]


@dataclass(frozen=True, eq=False)
class ConsentSnapshot:
    """Consent for one purpose, holder and dataset, as it stood at `as_of`."""

    purpose: str
    holder_org_id: int | None
    dataset_id: int | None
    as_of: datetime
    opted_out: KeySet
    permitted: KeySet
    denied: KeySet
    events_considered: int = 0

    @cached_property
    def included_if_opt_in(self) -> KeySet:
        """Keys whose most specific choice is a permit and who had not opted out."""
        keep = ~self.opted_out.contains(self.permitted.keys, key_prefixes(self.permitted.keys))
        return KeySet(keys=self.permitted.keys[keep])

    @cached_property
    def excluded_if_opt_out(self) -> KeySet:
        """Keys who denied the purpose here or opted out of all secondary use."""
        return KeySet(keys=unique_keys(np.concatenate([self.denied.keys, self.opted_out.keys])))

    def at(self, as_of: datetime) -> ConsentSnapshot:
        """The same consent as of another moment at which the same events were in force; what
        this snapshot computed once (its fingerprint, its key sets) stays computed."""
        if as_of == self.as_of:
            return self
        moved = dataclasses.replace(self, as_of=as_of)
        # cached_property keeps its values in the instance's __dict__, beside the fields.
        fields = {field.name for field in dataclasses.fields(self)}
        moved.__dict__.update({name: value for name, value in vars(self).items()
                               if name not in fields})
        return moved

    @cached_property
    def fingerprint(self) -> str:
        """A digest of the consent state, for caching results that depend on it."""
        digest = hashlib.sha256()
        for keys in (self.opted_out.keys, self.permitted.keys, self.denied.keys):
            digest.update(len(keys).to_bytes(8, "big"))
            digest.update(keys.tobytes())
        return digest.hexdigest()

    def decision_for(self, subject_key: str) -> str | None:
        """The most specific permit/deny in force for this key, or None when there is none."""
        if subject_key in self.permitted:
            return PERMIT
        if subject_key in self.denied:
            return DENY
        return None


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in EVENT_COLUMNS})


def build_snapshot(events: pd.DataFrame, *, purpose: str, holder_org_id: int | None,
                   dataset_id: int | None, as_of: datetime) -> ConsentSnapshot:
    """Fold consent events (columns EVENT_COLUMNS) into a snapshot.

    Only events at or before `as_of` count. Opt-out events apply to every purpose; choices count
    when they are for `purpose` and scoped to all holders, to `holder_org_id` or to `dataset_id`.
    Text columns may be categorical, which is fastest for large logs. Without an `at` column the
    events must already be those in force at `as_of`, in the order they happened (the service's
    query delivers them so).
    """
    if "at" in events:
        at = pd.to_datetime(events["at"], utc=True)
        in_force = (at <= pd.Timestamp(as_of)).to_numpy()
    else:
        at, in_force = None, np.ones(len(events), dtype=bool)
    decision = label_codes(events["decision"], DECISIONS)
    is_opt_out_event = (decision >= DECISIONS.index(OPT_OUT)) & in_force
    rank = _scope_rank(events, holder_org_id=holder_org_id, dataset_id=dataset_id)
    is_choice = ((decision >= 0) & (decision <= DECISIONS.index(CLEAR)) & in_force & (rank >= 0)
                 & (label_codes(events["purpose"], (purpose,)) == 0))
    relevant = np.flatnonzero(is_opt_out_event | is_choice)
    rows = relevant if at is None else relevant[_chronological(at.iloc[relevant])]
    encoded, valid = encode_keys(events["subject_key"])
    encoded, decision, rank = encoded[rows], decision[rows], rank[rows]
    is_opt_out_event = is_opt_out_event[rows] & valid[rows]
    is_choice = is_choice[rows] & valid[rows]
    codes = _group_codes(encoded, key_prefixes(encoded))

    opted_out_keys = _opted_out_keys(codes[is_opt_out_event], encoded[is_opt_out_event],
                                     decision[is_opt_out_event])
    final_codes, final_decision = _most_specific(codes[is_choice], rank[is_choice],
                                                 decision[is_choice])
    choice_keys = _key_by_code(codes[is_choice], encoded[is_choice])
    return ConsentSnapshot(
        purpose=purpose, holder_org_id=holder_org_id, dataset_id=dataset_id, as_of=as_of,
        opted_out=KeySet(keys=opted_out_keys),
        permitted=KeySet(keys=choice_keys[final_codes[final_decision == DECISIONS.index(PERMIT)]]),
        denied=KeySet(keys=choice_keys[final_codes[final_decision == DECISIONS.index(DENY)]]),
        events_considered=len(rows))


def label_codes(values: pd.Series, labels: Sequence[str]) -> np.ndarray:
    """The position of each value in `labels` (int8), -1 for other values and missing ones."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, categories = values.cat.codes.to_numpy(), values.cat.categories
    else:
        codes, categories = pd.factorize(values)
    lookup = np.array([labels.index(c) if c in labels else -1 for c in categories] + [-1],
                      dtype=np.int8)
    return lookup[codes]


def _scope_rank(events: pd.DataFrame, *, holder_org_id: int | None,
                dataset_id: int | None) -> np.ndarray:
    """SCOPE_RANK per event when its scope covers this holder and dataset, else -1."""
    scope_type = label_codes(events["scope_type"], SCOPE_TYPES)
    scope_id = pd.to_numeric(events["scope_id"], errors="coerce").to_numpy(dtype=float,
                                                                           na_value=np.nan)
    rank = np.where(scope_type == SCOPE_TYPES.index(SCOPE_ALL), SCOPE_RANK[SCOPE_ALL], -1)
    for scope, scope_id_wanted in ((SCOPE_HOLDER, holder_org_id), (SCOPE_DATASET, dataset_id)):
        if scope_id_wanted is not None:
            covered = (scope_type == SCOPE_TYPES.index(scope)) & (scope_id == scope_id_wanted)
            rank[covered] = SCOPE_RANK[scope]
    return rank.astype(np.int8)


def _chronological(at: pd.Series) -> np.ndarray:
    """Positions in time order, keeping the given order among equal times (the event ids)."""
    if at.is_monotonic_increasing:
        return np.arange(len(at))
    return np.argsort(at.to_numpy(), kind="stable")


def _opted_out_keys(codes: np.ndarray, encoded: np.ndarray, decision: np.ndarray) -> np.ndarray:
    """Keys whose latest opt-out event (rows are in time order) is an opt-out."""
    latest = pd.DataFrame({"code": codes, "decision": decision}).drop_duplicates(
        "code", keep="last")
    opted = latest["code"].to_numpy()[latest["decision"].to_numpy() == DECISIONS.index(OPT_OUT)]
    return _key_by_code(codes, encoded)[opted]


def _key_by_code(codes: np.ndarray, encoded: np.ndarray) -> np.ndarray:
    keys = np.empty(int(codes.max()) + 1 if len(codes) else 0, dtype=f"S{KEY_LENGTH}")
    keys[codes] = encoded
    return keys


def _most_specific(codes: np.ndarray, rank: np.ndarray,
                   decision: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per subject, the latest choice at each scope level, then the most specific non-cleared."""
    if len(codes) == 0:
        return codes, decision
    frame = pd.DataFrame({"code": codes, "rank": rank, "decision": decision})
    latest_per_level = frame.drop_duplicates(["code", "rank"], keep="last")
    standing = latest_per_level[latest_per_level["decision"] != DECISIONS.index(CLEAR)]
    winner = standing.sort_values("rank", kind="stable").drop_duplicates("code", keep="last")
    return winner["code"].to_numpy(), winner["decision"].to_numpy()


def included_mask(subject_keys: pd.Series | Sequence[str], snapshot: ConsentSnapshot, *,
                  consent_model: str) -> np.ndarray:
    """Which rows may be included: opt_in needs a permit, opt_out excludes denials and opt-outs.

    Rows without a well-formed subject key are never included (fail closed).
    """
    if consent_model not in CONSENT_MODELS:
        raise ValueError(f"unknown consent model {consent_model!r}")
    encoded, valid = encode_keys(subject_keys)
    prefixes = key_prefixes(encoded)
    if consent_model == "opt_in":
        return snapshot.included_if_opt_in.contains(encoded, prefixes) & valid
    return ~snapshot.excluded_if_opt_out.contains(encoded, prefixes) & valid


# --- one citizen's standing choices (for their own pages and receipts) -------------------------

class EventLike(Protocol):
    id: int
    at: datetime
    decision: str
    scope_type: str
    scope_id: int | None
    purpose: str | None
    actor_citizen_id: int
    notice_version: str


@dataclass(frozen=True)
class StandingChoice:
    scope_type: str
    scope_id: int | None
    purpose: str
    decision: str
    at: datetime
    event_id: int
    actor_citizen_id: int
    notice_version: str


@dataclass(frozen=True)
class CitizenConsent:
    opt_out: bool
    opt_out_since: datetime | None
    choices: tuple[StandingChoice, ...]
    opt_out_event: EventLike | None = None

    def choice(self, *, purpose: str, scope_type: str = SCOPE_ALL,
               scope_id: int | None = None) -> StandingChoice | None:
        for choice in self.choices:
            if (choice.purpose, choice.scope_type, choice.scope_id) == (purpose, scope_type,
                                                                        scope_id):
                return choice
        return None


def fold_citizen_events(events: Iterable[EventLike]) -> CitizenConsent:
    """The citizen's standing choices and opt-out after these events (given oldest first)."""
    choices: dict[tuple[str, int | None, str], StandingChoice] = {}
    opt_out_event: EventLike | None = None
    for event in events:
        if event.decision == OPT_OUT:
            opt_out_event = event
        elif event.decision == OPT_OUT_WITHDRAWN:
            opt_out_event = None
        elif event.purpose is not None:
            slot = (event.scope_type, event.scope_id, event.purpose)
            if event.decision == CLEAR:
                choices.pop(slot, None)
            else:
                choices[slot] = StandingChoice(
                    scope_type=event.scope_type, scope_id=event.scope_id, purpose=event.purpose,
                    decision=event.decision, at=event.at, event_id=event.id,
                    actor_citizen_id=event.actor_citizen_id,
                    notice_version=event.notice_version)
    ordered = sorted(choices.values(),
                     key=lambda c: (c.purpose, SCOPE_RANK[c.scope_type], c.scope_id or 0))
    return CitizenConsent(
        opt_out=opt_out_event is not None,
        opt_out_since=opt_out_event.at if opt_out_event else None,
        opt_out_event=opt_out_event,
        choices=tuple(ordered))
