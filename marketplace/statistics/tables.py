"""Statistics tables: cohort rows in, one aggregated cube out (every cell and every margin).

Pure module: DataFrames and numpy arrays in, a DataFrame out; no database, no Flask. Group
labels are computed once per distinct value (categoricals), then DuckDB aggregates the selected
rows with `GROUP BY CUBE`, so every margin the table implies is computed and released together
with its cells, and disclosure control can see all of them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from marketplace.delivery import generalise

MEASURE_KINDS = ("count_persons", "count_rows", "mean", "median")
NUMERIC_TYPES = ("integer", "number")
UNKNOWN = "unknown"
AGE_BAND_WIDTH = 10
MAX_CELLS = 10_000
PERSONS = "_persons"
ROWS = "_rows"
GROUPING = "_grouping"

# Derived groups and the column concepts each can be computed from, in order of preference.
DERIVED_GROUPS: dict[str, tuple[str, ...]] = {
    "age_band": ("age", "birth_date"),
    "municipality": ("municipality", "postcode"),
    "region": ("municipality", "postcode"),
    "year": ("event_date",),
    "quarter": ("event_date",),
    "icd10_chapter": ("diagnosis",),
}

# ICD-10 chapters (WHO 2019) as (first code, last code, chapter number).
_CHAPTERS: tuple[tuple[str, str, str], ...] = (
    ("A00", "B99", "I"), ("C00", "D48", "II"), ("D50", "D89", "III"), ("E00", "E90", "IV"),
    ("F00", "F99", "V"), ("G00", "G99", "VI"), ("H00", "H59", "VII"), ("H60", "H95", "VIII"),
    ("I00", "I99", "IX"), ("J00", "J99", "X"), ("K00", "K93", "XI"), ("L00", "L99", "XII"),
    ("M00", "M99", "XIII"), ("N00", "N99", "XIV"), ("O00", "O99", "XV"), ("P00", "P96", "XVI"),
    ("Q00", "Q99", "XVII"), ("R00", "R99", "XVIII"), ("S00", "T98", "XIX"),
    ("U00", "U99", "XXII"), ("V01", "Y98", "XX"), ("Z00", "Z99", "XXI"),
)


@dataclass(frozen=True)
class Measure:
    kind: str
    column: str | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}_{self.column}" if self.column else self.kind


@dataclass(frozen=True)
class Grouping:
    """One dimension of the table: a dataset column as it is, or a group derived from one."""

    name: str
    column: str
    derived: str | None = None  # a key of DERIVED_GROUPS, or None for the column's own values
    source_concept: str | None = None


def concept_columns(columns: Sequence[Mapping]) -> dict[str, str]:
    """Concept -> the column that carries it."""
    found: dict[str, str] = {}
    for column in columns:
        if column.get("concept"):
            found.setdefault(str(column["concept"]), str(column["name"]))
    return found


def grouping_for(name: str, columns: Sequence[Mapping]) -> Grouping | None:
    """The dimension `name` names on this dataset, or None when it names nothing groupable.

    Direct identifiers are never groupable (not even the subject column).
    """
    if name in DERIVED_GROUPS:
        concepts = concept_columns(columns)
        for concept in DERIVED_GROUPS[name]:
            if concept in concepts:
                return Grouping(name=name, column=concepts[concept], derived=name,
                                source_concept=concept)
        return None
    for column in columns:
        if column["name"] == name and column.get("role") != "direct_identifier":
            return Grouping(name=name, column=name)
    return None


# --- labels, one per distinct value -------------------------------------------------------

def _categorical(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), pd.Index(values.cat.categories)
    codes, uniques = pd.factorize(values, sort=False)
    return codes, pd.Index(uniques)


def icd10_chapter(codes: pd.Index) -> np.ndarray:
    """The ICD-10 chapter (Roman numeral) of each code; SKS codes ("DJ441") lose their "D"."""
    text = pd.Index(codes).astype(str).str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    sks = text.str.match(r"^D[A-Z]")
    text = pd.Index(np.where(sks, text.str[1:], text))
    head = text.str[:3]
    labels = np.full(len(text), UNKNOWN, dtype=object)
    valid = text.str.match(r"^[A-Z][0-9][0-9]")
    for first, last, chapter in _CHAPTERS:
        labels[valid & (head >= first) & (head <= last)] = chapter
    return labels


def _labels_of_distinct(grouping: Grouping, uniques: pd.Index, reference: date) -> np.ndarray:
    derived = grouping.derived
    if derived is None:
        return np.asarray(pd.Index(uniques).astype(str), dtype=object)
    if derived == "age_band":
        if grouping.source_concept == "age":
            ages = pd.to_numeric(pd.Series(uniques), errors="coerce")
        else:
            ages = generalise.age_years(pd.Series(uniques), reference)
        lower = (ages // AGE_BAND_WIDTH) * AGE_BAND_WIDTH
        labels = [f"{int(lo)}-{int(lo) + AGE_BAND_WIDTH - 1}" if pd.notna(lo) and lo >= 0
                  else UNKNOWN for lo in lower]
        return np.asarray(labels, dtype=object)
    if derived in ("municipality", "region"):
        text = pd.Index(uniques).astype(str)
        if grouping.source_concept == "postcode":
            municipalities = generalise.municipality_of_postcode(text)
        else:
            municipalities = text.str.lstrip("0")
        if derived == "region":
            if grouping.source_concept == "postcode":
                values = generalise.region_of_postcode(text)
            else:
                values = generalise.region_of_municipality(municipalities)
        else:
            values = municipalities
        values = pd.Index(values).astype(str)
        return np.asarray(np.where(values == generalise.SUPPRESSED, UNKNOWN, values),
                          dtype=object)
    if derived in ("year", "quarter"):
        moments = pd.to_datetime(pd.Series(uniques), errors="coerce")
        if derived == "year":
            labels = moments.dt.year.astype("Int64").astype(str)
        else:
            labels = (moments.dt.year.astype("Int64").astype(str) + "-Q"
                      + moments.dt.quarter.astype("Int64").astype(str))
        return np.asarray(labels.where(moments.notna(), UNKNOWN), dtype=object)
    return icd10_chapter(pd.Index(uniques))


def group_labels(values: pd.Series, grouping: Grouping, *, reference: date) -> pd.Categorical:
    """Each row's label in the dimension, computed once per distinct value."""
    codes, uniques = _categorical(values)
    labels = _labels_of_distinct(grouping, uniques, reference)
    categories, label_codes = np.unique(np.append(labels, UNKNOWN).astype(str),
                                        return_inverse=True)
    per_value = label_codes[:-1]
    unknown = label_codes[-1]
    row_codes = np.where(codes >= 0, per_value[np.maximum(codes, 0)] if len(per_value)
                         else unknown, unknown)
    return pd.Categorical.from_codes(row_codes.astype(np.int32),
                                     dtype=pd.CategoricalDtype(pd.Index(categories)))


def label_domain(values: pd.Series, grouping: Grouping, *, reference: date) -> list[str]:
    """Every label the dimension can take on the whole data version (not only the cohort)."""
    _, uniques = _categorical(values)
    labels = set(_labels_of_distinct(grouping, uniques, reference).tolist())
    if values.isna().any():
        labels.add(UNKNOWN)
    return sorted(str(label) for label in labels)


# --- the cube ---------------------------------------------------------------------------------

def _dimension(index: int) -> str:
    return f"g{index}"


def aggregate(frame: pd.DataFrame, *, person: np.ndarray | None, groupings: Sequence[Grouping],
              measures: Sequence[Measure], reference: date) -> pd.DataFrame:
    """Aggregate the rows of `frame` into every cell and margin of the grouping.

    `person` is an integer per row (None when the dataset holds no person column: each row is
    then its own person). The result has one column per grouping (named as the grouping; None
    in a margin), `_grouping` (bit i set when dimension i is summed over, as SQL's GROUPING),
    `_persons`, `_rows` and one column per measure.
    """
    data: dict[str, object] = {}
    for i, grouping in enumerate(groupings):
        data[_dimension(i)] = group_labels(frame[grouping.column], grouping,
                                           reference=reference)
    data["person"] = (np.asarray(person, dtype=np.int64) if person is not None
                      else np.arange(len(frame), dtype=np.int64))
    values: dict[str, str] = {}
    for measure in measures:
        if measure.kind in ("mean", "median") and measure.column:
            if measure.column not in values:
                values[measure.column] = f"v{len(values)}"
                data[values[measure.column]] = pd.to_numeric(
                    frame[measure.column], errors="coerce").to_numpy(dtype=np.float64)
    table = pd.DataFrame(data, index=pd.RangeIndex(len(frame)))
    dims = [_dimension(i) for i in range(len(groupings))]
    selects = [f"COUNT(DISTINCT person) AS {PERSONS}", f"COUNT(*) AS {ROWS}"]
    for measure in measures:
        if measure.kind == "mean":
            selects.append(f'AVG({values[measure.column or ""]}) AS "{measure.name}"')
        elif measure.kind == "median":
            selects.append(f'MEDIAN({values[measure.column or ""]}) AS "{measure.name}"')
    connection = duckdb.connect()
    try:
        connection.register("cohort", table)
        if dims:
            listed = ", ".join(dims)
            sql = (f"SELECT {listed}, GROUPING({listed}) AS {GROUPING}, {', '.join(selects)} "
                   f"FROM cohort GROUP BY CUBE ({listed})")
        else:
            sql = f"SELECT 0 AS {GROUPING}, {', '.join(selects)} FROM cohort"
        cube = connection.execute(sql).df()
    finally:
        connection.close()
    renamed = {_dimension(i): g.name for i, g in enumerate(groupings)}
    cube = cube.rename(columns=renamed)
    for grouping in groupings:
        cube[grouping.name] = cube[grouping.name].astype(object).where(
            cube[grouping.name].notna(), None)
    # GROUPING() numbers the first dimension as the highest bit; make bit i mean dimension i.
    bits = cube[GROUPING].to_numpy(dtype=np.int64)
    mapped = np.zeros(len(cube), dtype=np.int64)
    for i in range(len(groupings)):
        mapped |= ((bits >> (len(groupings) - 1 - i)) & 1) << i
    cube[GROUPING] = mapped
    order = [GROUPING, *[g.name for g in groupings]]
    return cube.sort_values(order, kind="stable", na_position="last").reset_index(drop=True)


def cell_count(domains: Sequence[Sequence[str]]) -> int:
    """The number of cells a grouping can produce (the product of its dimensions' sizes)."""
    total = 1
    for labels in domains:
        total *= max(1, len(labels))
    return total
