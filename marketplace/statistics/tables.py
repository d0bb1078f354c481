"""Statistics tables: cohort rows in, one aggregated cube out (every cell and every margin).

Pure module: DataFrames and numpy arrays in, a DataFrame out; no database, no Flask. Group
labels are computed once per distinct value (categoricals), then the selected rows are
aggregated into every cell and every margin at once (as SQL's `GROUP BY CUBE`), so the margins
the table implies are released together with its cells and disclosure control sees them all.
This is numpy over dictionary codes: on 700,000 rows DuckDB's `GROUP BY CUBE` with
COUNT(DISTINCT) took seconds, several times the whole budget of a request.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from marketplace.delivery import generalise
from marketplace.languages import N_

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

# The chapters' titles, for people (Danish source text).
ICD10_CHAPTER_NAMES = {
    "I": N_("Visse infektiøse og parasitære sygdomme"), "II": N_("Svulster"),
    "III": N_("Sygdomme i blod og bloddannende organer og visse sygdomme i immunsystemet"),
    "IV": N_("Endokrine, ernærings- og stofskiftesygdomme"),
    "V": N_("Psykiske lidelser og adfærdsmæssige forstyrrelser"),
    "VI": N_("Sygdomme i nervesystemet"), "VII": N_("Sygdomme i øje og øjenomgivelser"),
    "VIII": N_("Sygdomme i øre og processus mastoideus"),
    "IX": N_("Sygdomme i kredsløbsorganer"), "X": N_("Sygdomme i åndedrætsorganer"),
    "XI": N_("Sygdomme i fordøjelsesorganer"), "XII": N_("Sygdomme i hud og underhud"),
    "XIII": N_("Sygdomme i knogler, muskler og bindevæv"),
    "XIV": N_("Sygdomme i urinveje og kønsorganer"),
    "XV": N_("Svangerskab, fødsel og barsel"),
    "XVI": N_("Visse tilstande opstået i perinatalperioden"),
    "XVII": N_("Medfødte misdannelser og kromosomanomalier"),
    "XVIII": N_("Symptomer og abnorme fund, ikke klassificeret andetsteds"),
    "XIX": N_("Læsioner, forgiftninger og visse andre følger af ydre påvirkninger"),
    "XX": N_("Ydre årsager til sygdom og død"),
    "XXI": N_("Faktorer af betydning for sundhedstilstand og kontakt med sundhedsvæsenet"),
    "XXII": N_("Koder til særlige formål"),
}


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

def distinct_values(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Per-row codes into the distinct values (-1 for missing)."""
    return _categorical(values)


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
        lower = ((ages // AGE_BAND_WIDTH) * AGE_BAND_WIDTH).to_numpy(dtype=np.float64)
        valid = ~np.isnan(lower) & (lower >= 0)
        whole = np.where(valid, lower, 0).astype(np.int64)
        text = np.char.add(np.char.add(whole.astype(str), "-"),
                           (whole + AGE_BAND_WIDTH - 1).astype(str))
        return np.where(valid, text.astype(object), UNKNOWN)
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
              measures: Sequence[Measure], reference: date,
              labels: Sequence[pd.Categorical] | None = None) -> pd.DataFrame:
    """Aggregate the rows of `frame` into every cell and margin of the grouping.

    `person` is an integer per row (None when the dataset holds no person column: each row is
    then its own person). The result has one column per grouping (named as the grouping; None
    in a margin), `_grouping` (bit i set when dimension i is summed over, as SQL's GROUPING),
    `_persons`, `_rows` and one column per measure. `labels` are the rows' group labels when
    the caller has them already (see `group_labels`).

    The cells are a dense array over the dimensions' labels (the cell limit keeps it small):
    rows, sums and counts of margins are sums over its axes; distinct persons are counted on
    the distinct (cell, person) pairs, each margin from the finer one with fewest pairs.
    """
    if labels is None:
        labels = [group_labels(frame[g.column], g, reference=reference) for g in groupings]
    sizes = [max(1, len(lab.categories)) for lab in labels]
    cells = int(np.prod(sizes)) if sizes else 1
    finest = np.zeros(len(frame), dtype=np.int64)
    for lab, size in zip(labels, sizes, strict=True):
        finest = finest * size + lab.codes.astype(np.int64)
    who = (np.asarray(person, dtype=np.int64) if person is not None
           else np.arange(len(frame), dtype=np.int64))
    span = int(who.max()) + 1 if len(who) else 1
    rows = np.bincount(finest, minlength=cells).reshape(sizes or [1])
    sums: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for measure in measures:
        if measure.kind in ("mean", "median") and measure.column and measure.column not in sums:
            values = pd.to_numeric(frame[measure.column], errors="coerce").to_numpy(
                dtype=np.float64)
            present = ~np.isnan(values)
            total = np.bincount(finest[present], weights=values[present], minlength=cells)
            counted = np.bincount(finest[present], minlength=cells)
            sums[measure.column] = (values, total.reshape(sizes or [1]),
                                    counted.reshape(sizes or [1]))
    pairs = {0: pd.unique(finest * span + who)}
    # When every person falls in exactly one cell (groups by attributes of the person: sex,
    # age band, region), distinct persons add up across cells like rows do.
    additive = len(pairs[0]) == np.count_nonzero(np.bincount(who, minlength=span))
    finest_persons = np.bincount(pairs[0] // span, minlength=cells).reshape(sizes or [1])
    records: list[dict[str, object]] = []
    dims = len(groupings)
    for summed in range(2 ** dims):
        axes = tuple(i for i in range(dims) if summed >> i & 1)
        kept = [i for i in range(dims) if not summed >> i & 1]
        shape = [sizes[i] for i in kept]
        if additive:
            persons = finest_persons.sum(axis=axes) if axes else finest_persons
        else:
            if summed:
                dropped = min(axes, key=lambda i: len(pairs[summed & ~(1 << i)]))
                parent = pairs[summed & ~(1 << dropped)]
                stride = int(np.prod(sizes[dropped + 1:])) if dropped + 1 < dims else 1
                digit = (parent // span // stride) % sizes[dropped]
                pairs[summed] = pd.unique(parent - digit * (stride * span))
            persons = np.bincount(pairs[summed] // span, minlength=cells)
            persons = persons.reshape(sizes or [1])
            if axes:
                persons = persons.sum(axis=axes)  # every pair already sits in its margin cell
        row_counts = rows.sum(axis=axes) if axes else rows
        measure_values: dict[str, np.ndarray] = {}
        for measure in measures:
            if measure.kind == "mean" and measure.column:
                _, total, counted = sums[measure.column]
                t = total.sum(axis=axes) if axes else total
                c = counted.sum(axis=axes) if axes else counted
                with np.errstate(invalid="ignore", divide="ignore"):
                    measure_values[measure.name] = np.where(c > 0, t / np.maximum(c, 1), np.nan)
            elif measure.kind == "median" and measure.column:
                measure_values[measure.name] = _margin_medians(
                    sums[measure.column][0], finest, sizes, summed)
        flat_rows = np.asarray(row_counts).reshape(-1)
        flat_persons = np.asarray(persons).reshape(-1)
        flat_measures = {k: np.asarray(v).reshape(-1) for k, v in measure_values.items()}
        for index in np.flatnonzero(flat_rows):
            position = np.unravel_index(index, shape) if shape else ()
            record: dict[str, object] = {}
            at = dict(zip(kept, position, strict=True))
            for i, grouping in enumerate(groupings):
                record[grouping.name] = (str(labels[i].categories[at[i]]) if i in at else None)
            record[GROUPING] = summed
            record[PERSONS] = int(flat_persons[index])
            record[ROWS] = int(flat_rows[index])
            for name, values in flat_measures.items():
                value = values[index]
                record[name] = None if np.isnan(value) else float(value)
            records.append(record)
    columns = [g.name for g in groupings] + [GROUPING, PERSONS, ROWS] + [
        m.name for m in measures if m.kind in ("mean", "median")]
    return pd.DataFrame.from_records(records, columns=columns)


def _coarser(codes: np.ndarray, span: int, sizes: Sequence[int], summed: int) -> np.ndarray:
    """Cell codes (times `span`, plus a person) with the summed dimensions set to 0."""
    cell, rest = np.divmod(codes, span)
    digits = []
    for size in reversed(sizes):
        cell, digit = np.divmod(cell, size)
        digits.append(digit)
    digits.reverse()
    out = np.zeros(len(codes), dtype=np.int64)
    for i, (digit, size) in enumerate(zip(digits, sizes, strict=True)):
        out = out * size + (0 if summed >> i & 1 else digit)
    return out * span + rest


def _margin_medians(values: np.ndarray, finest: np.ndarray, sizes: Sequence[int],
                    summed: int) -> np.ndarray:
    """The median of `values` per cell of one margin, as a flat array over its kept axes."""
    dims = len(sizes)
    kept_sizes = [sizes[i] for i in range(dims) if not summed >> i & 1]
    code = _coarser(finest, 1, sizes, summed)
    # Renumber onto the kept axes only.
    cell = code
    digits = []
    for size in reversed(sizes):
        cell, digit = np.divmod(cell, size)
        digits.append(digit)
    digits.reverse()
    flat = np.zeros(len(code), dtype=np.int64)
    for i, (digit, size) in enumerate(zip(digits, sizes, strict=True)):
        if not summed >> i & 1:
            flat = flat * size + digit
    present = ~np.isnan(values)
    flat, chosen = flat[present], values[present]
    out = np.full(int(np.prod(kept_sizes)) if kept_sizes else 1, np.nan)
    if not len(chosen):
        return out
    order = np.lexsort((chosen, flat))
    flat, chosen = flat[order], chosen[order]
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    ends = np.r_[starts[1:], len(flat)]
    low = chosen[starts + (ends - starts - 1) // 2]
    high = chosen[starts + (ends - starts) // 2]
    out[flat[starts]] = (low + high) / 2
    return out


def cell_count(domains: Sequence[Sequence[str]]) -> int:
    """The number of cells a grouping can produce (the product of its dimensions' sizes)."""
    total = 1
    for labels in domains:
        total *= max(1, len(labels))
    return total
