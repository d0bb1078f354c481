"""Dummy data: synthetic rows with a permit's columns, generated from the descriptor alone.

A company writes and tests its analysis on these rows on its own machine before it submits the
script to run against the real data. Nothing here reads a data version: the values come from the
descriptor's types, value sets, ranges, patterns and temporal coverage, with plausible shapes
(skewed category frequencies, bell-shaped numbers, several rows per person).
Pure module.
"""
from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PSEUDONYM = "pseudonym"
SYNTHETIC_NOTE = ("SYNTETISKE DATA / SYNTHETIC DATA: generated from the dataset's description, "
                  "not from real rows; no row describes a real person")
DEFAULT_ROWS = 1_000
MAX_ROWS = 100_000

# Common ICD-10 codes (Danish SKS spelling, "D" + code) for diagnosis-like columns.
ICD10 = ("DI109", "DE119", "DJ449", "DJ441", "DI639", "DF329", "DC341", "DC509", "DI500",
         "DN390", "DM545", "DS720", "DJ189", "DE669", "DI489", "DK359", "DF101", "DG309",
         "DI251", "DJ45")
POSTCODES = ("1050", "1550", "2100", "2200", "2300", "2400", "2450", "2500", "2605", "2620",
             "2660", "2730", "2750", "2800", "2900", "3000", "3400", "4000")
_LETTERS = np.array(list("abcdefghijklmnop"))


@dataclass(frozen=True)
class DummyColumn:
    """One column of the dummy data as the sandbox will see it (name, type, value set)."""

    name: str
    type: str
    spec: Mapping


def dummy_columns(columns: Sequence[Mapping], *, permitted: Sequence[str],
                  subject_column: str | None) -> list[DummyColumn]:
    """The permit's columns in descriptor order: the subject column becomes `pseudonym`, other
    direct identifiers (except free text) never appear."""
    out = []
    for column in columns:
        name = column["name"]
        if name not in permitted:
            continue
        if name == subject_column:
            out.append(DummyColumn(PSEUDONYM, "string", {"role": "pseudonym"}))
        elif (column.get("role") == "direct_identifier"
              and column.get("identifier_kind") != "free_text"):
            continue
        else:
            out.append(DummyColumn(name, column.get("type", "string"), column))
    return out


def dummy_frame(columns: Sequence[DummyColumn], *, rows: int = DEFAULT_ROWS, seed: int,
                temporal: Mapping | None = None) -> pd.DataFrame:
    """`rows` synthetic rows for `columns`, deterministic for `seed`."""
    rows = max(0, min(int(rows), MAX_ROWS))
    rng = np.random.default_rng(seed)
    persons = max(1, rows // 3)
    person = np.sort(rng.integers(0, persons, rows))
    frame: dict[str, object] = {}
    for column in columns:
        frame[column.name] = _values(column, rows=rows, rng=rng, person=person,
                                     persons=persons, temporal=temporal or {})
    result = pd.DataFrame(frame, index=pd.RangeIndex(rows))
    # Rows in no particular order, as the real data in the sandbox.
    return result.iloc[rng.permutation(rows)].reset_index(drop=True)


def _skewed_choice(values: Sequence[object], rows: int, rng: np.random.Generator) -> np.ndarray:
    weights = 1.0 / np.arange(1, len(values) + 1) ** 0.8
    weights = weights[rng.permutation(len(values))]
    return rng.choice(np.array(list(values), dtype=object), size=rows, p=weights / weights.sum())


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _values(column: DummyColumn, *, rows: int, rng: np.random.Generator, person: np.ndarray,
            persons: int, temporal: Mapping) -> object:
    spec = column.spec
    kind = column.type
    concept = str(spec.get("concept") or "")
    name = column.name.lower()
    if spec.get("role") == "pseudonym":
        spelled = _LETTERS[rng.integers(0, 16, (persons, 24))]
        return np.array(["".join(row) for row in spelled], dtype=object)[person]
    if spec.get("allowed_values"):
        return _skewed_choice(spec["allowed_values"], rows, rng)
    if kind == "date":
        return _dates(spec, concept, rows=rows, rng=rng, person=person, persons=persons,
                      temporal=temporal)
    if kind in ("integer", "number"):
        low = _number(spec.get("minimum"))
        high = _number(spec.get("maximum"))
        low = 0.0 if low is None else low
        high = low + 100.0 if high is None or high < low else high
        # A bell shape around the lower third, as most clinical measures are skewed.
        centre = low + (high - low) / 3
        values = np.clip(rng.normal(centre, (high - low) / 5 or 1.0, rows), low, high)
        return np.rint(values).astype(np.int64) if kind == "integer" else np.round(values, 2)
    if concept == "sex" or name in ("sex", "gender", "køn", "koen"):
        return _skewed_choice(["female", "male"], rows, rng)
    if spec.get("pattern"):
        return np.array([_from_pattern(str(spec["pattern"]), rng) for _ in range(rows)],
                        dtype=object)
    if concept == "diagnosis" or "diag" in name or "icd" in name:
        return _skewed_choice(ICD10, rows, rng)
    if concept in ("postcode", "municipality") or "postcode" in name or "postnr" in name:
        return _skewed_choice(POSTCODES, rows, rng)
    if spec.get("identifier_kind") == "free_text":
        return _skewed_choice(["Syntetisk notat", "Kontrol om 3 mdr.", "Ingen bemærkninger"],
                              rows, rng)
    if kind == "category":
        return _skewed_choice([f"{column.name}_{i}" for i in range(1, 6)], rows, rng)
    return _skewed_choice([f"{column.name}_{i}" for i in range(1, 21)], rows, rng)


def _dates(spec: Mapping, concept: str, *, rows: int, rng: np.random.Generator,
           person: np.ndarray, persons: int, temporal: Mapping) -> pd.Series:
    if concept == "birth_date" or "birth" in spec.get("name", ""):
        start, end = date(1930, 1, 1), date(2010, 12, 31)
        per_person = True
    else:
        start = _date(spec.get("minimum")) or _date(temporal.get("start")) or date(2018, 1, 1)
        end = _date(spec.get("maximum")) or _date(temporal.get("end")) or date(2024, 12, 31)
        per_person = False
    if end < start:
        start, end = end, start
    span = (end - start).days + 1
    days = rng.integers(0, span, persons)[person] if per_person else rng.integers(0, span, rows)
    return pd.Series(pd.Timestamp(start) + pd.to_timedelta(days, unit="D")).dt.normalize()


_TOKEN = re.compile(r"\\d|\\w|\[([^\]]+)\]|\.|\\(.)|([^\\\[\]{}()|^$*+?])|(\{\d+(?:,\d*)?\}|[*+?])")


def _from_pattern(pattern: str, rng: np.random.Generator) -> str:
    """A string matching a simple regular expression (classes, literals, {n,m}, ?, *, +)."""
    out: list[str] = []
    last: list[str] = []
    for match in _TOKEN.finditer(pattern.strip("^$")):
        token = match.group(0)
        if match.group(4):
            if not last:
                continue
            low, high = _repeat(match.group(4))
            out.pop()
            out.extend(rng.choice(last) for _ in range(int(rng.integers(low, high + 1))))
            continue
        if token == r"\d":  # noqa: S105
            last = list("0123456789")
        elif token == r"\w":  # noqa: S105
            last = list("abcdefghijklmnopqrstuvwxyz")
        elif token == ".":  # noqa: S105
            last = list("abcdefghij")
        elif match.group(1):
            last = _class(match.group(1))
        else:
            last = [match.group(2) or match.group(3) or token]
        out.append(str(rng.choice(last)))
    return "".join(out)


def _repeat(quantifier: str) -> tuple[int, int]:
    if quantifier == "?":
        return 0, 1
    if quantifier == "*":
        return 0, 3
    if quantifier == "+":
        return 1, 3
    low, _, high = quantifier.strip("{}").partition(",")
    if not _:
        return int(low), int(low)
    return int(low), int(high) if high else int(low) + 3


def _class(body: str) -> list[str]:
    chars: list[str] = []
    body = body.replace(r"\d", "0-9")
    index = 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            chars.extend(chr(c) for c in range(ord(body[index]), ord(body[index + 2]) + 1))
            index += 3
        else:
            chars.append(body[index])
            index += 1
    return chars or ["x"]


def to_parquet(frame: pd.DataFrame) -> bytes:
    """Parquet bytes whose file metadata says the rows are synthetic (`_synthetic`)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[b"_synthetic"] = SYNTHETIC_NOTE.encode()
    table = table.replace_schema_metadata(metadata)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes whose first line is a comment saying the rows are synthetic."""
    body = frame.to_csv(index=False, date_format="%Y-%m-%d")
    return (f"# {SYNTHETIC_NOTE}\n" + body).encode()
