"""Dummy data from a descriptor alone: the permit's columns, value sets, ranges and patterns."""
from __future__ import annotations

import io

import pandas as pd
import pyarrow.parquet as pq

from marketplace.workspace import dummy

COLUMNS = [
    {"name": "cpr", "type": "string", "role": "direct_identifier", "identifier_kind": "cpr"},
    {"name": "phone", "type": "string", "role": "direct_identifier", "identifier_kind": "phone"},
    {"name": "visit", "type": "date", "role": "attribute"},
    {"name": "grade", "type": "category", "role": "attribute", "allowed_values": ["A", "B"]},
    {"name": "dose", "type": "number", "role": "attribute", "minimum": 0.5, "maximum": 2.5},
    {"name": "age", "type": "integer", "role": "quasi_identifier", "minimum": 18, "maximum": 99},
    {"name": "code", "type": "string", "role": "attribute", "pattern": r"^[A-Z]{2}\d{3}$"},
    {"name": "odd", "type": "string", "role": "attribute", "pattern": r"((((("},
]


def frame(rows: int = 500) -> pd.DataFrame:
    columns = dummy.dummy_columns(COLUMNS, permitted=[c["name"] for c in COLUMNS],
                                  subject_column="cpr")
    return dummy.dummy_frame(columns, rows=rows, seed=3,
                             temporal={"start": "2020-01-01", "end": "2020-12-31"})


def test_columns_value_sets_ranges_and_patterns() -> None:
    rows = frame()
    assert list(rows.columns) == ["pseudonym", "visit", "grade", "dose", "age", "code", "odd"]
    assert set(rows["grade"]) <= {"A", "B"}
    assert rows["dose"].between(0.5, 2.5).all() and rows["age"].between(18, 99).all()
    assert rows["visit"].between(pd.Timestamp("2020-01-01"), pd.Timestamp("2020-12-31")).all()
    assert rows["code"].str.fullmatch(r"[A-Z]{2}\d{3}").all()
    assert rows["odd"].map(type).eq(str).all()  # a pattern it cannot follow still gives text


def test_deterministic_and_bounded() -> None:
    assert frame().equals(frame())
    assert len(frame(rows=10**9)) == dummy.MAX_ROWS
    assert len(frame(rows=-5)) == 0


def test_files_say_they_are_synthetic() -> None:
    rows = frame(20)
    table = pq.read_table(io.BytesIO(dummy.to_parquet(rows)))
    assert table.schema.metadata[b"_synthetic"].startswith(b"SYNTETISKE DATA")
    text = dummy.to_csv(rows).decode()
    assert text.startswith("# SYNTETISKE DATA") and "pseudonym,visit" in text.splitlines()[1]
