"""The extract pipeline as pure functions over DataFrames, for pandas chunks and Dask partitions.

consent filter -> cohort filter -> minimise -> pseudonymise -> generalise -> anonymity
assessment (k on each person's whole record, l-diversity in persons) -> leak scan -> keyed order.

The assessment is a property of the whole extract, and of everything the company can link to
it: the permit's other datasets (the same pseudonyms join them) and, where given, what the
company already received under other permits. So the pipeline makes two passes:
1. every chunk of every dataset involved is filtered and generalised to the descriptor's level
   and reduced to a small class table (distinct quasi-identifier labels x person x sensitive
   value, with row counts); the tables are merged and the generalisation search picks the level
   of every quasi-identifier and the persons that may be released;
2. every chunk of the extracted dataset is filtered, generalised to the chosen level, cut to the
   released persons, pseudonymised and scanned. Rows then leave in a keyed random order (a PRF
   of the row under the permit's key), never in upload order: an upload sorted by CPR number
   would otherwise tell birth dates through row positions.
Both passes hold one chunk at a time (the ordering holds one bucket of released rows), so memory
is bounded by the chunk and bucket sizes and the class table. The same functions run per Dask
partition; the merge and the search run once.
"""
from __future__ import annotations

import hashlib
import hmac
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from marketplace.delivery import generalise, kanon, leaks
from marketplace.delivery.pseudonymise import day_offsets, person_numbers, prf_blocks, pseudonymise

SUBJECT_KEY = "_subject_key"
PSEUDONYM = "pseudonym"
DATASET = "_dataset"
DEFAULT_SHIFT_DAYS = 30
# Released rows are put in keyed order one bucket at a time; a bucket holds at most this many
# (about 0.5 GB while it is sorted). A larger extract reads its data once more per bucket.
ORDER_BUCKET_ROWS = 2_000_000
ROW_GROUP_ROWS = 262_144
# Selections up to this many rows stay prepared between the passes instead of being read again.
KEPT_BETWEEN_PASSES_ROWS = 1_000_000
_PLACEHOLDER = ""  # the label of a quasi-identifier in entries of a dataset that lacks it
_CODE_TYPES = ("string", "category")
_SEX = {"m": "male", "male": "male", "mand": "male", "k": "female", "f": "female",
        "female": "female", "kvinde": "female"}

ConsentFilter = Callable[[pd.Series], np.ndarray]


def is_quasi_identifier(column: Mapping) -> bool:
    """Quasi-identifiers by declaration, and by default the coded sensitive columns (diagnosis,
    procedure, medication codes): an attacker may well know one of a neighbour's diagnoses.
    A sensitive column protected by l-diversity, or marked `"quasi_identifier": false`, is not."""
    role = column.get("role")
    if role == "quasi_identifier":
        return True
    return (role == "sensitive" and column.get("type", "string") in _CODE_TYPES
            and column.get("quasi_identifier", True) is not False
            and not column.get("l_diversity"))


def rule_of(column: Mapping) -> generalise.Rule:
    """The generalisation rule of a quasi-identifier (codes climb the ICD-10 ladder by default)."""
    if column.get("role") == "sensitive" and not column.get("generalise"):
        return generalise.Rule(column=column["name"], kind="code", spec={"kind": "code"})
    return generalise.rule_for(column)


@dataclass(frozen=True)
class ExtractPlan:
    """Everything the pipeline needs for one dataset under one permit. It travels with each Dask
    task, the permit's derived keys included, so workers never need the master key."""

    columns: tuple[Mapping, ...]
    subject_column: str | None
    permitted: tuple[str, ...]
    cohort: Mapping
    k: int
    reference_date: date
    pseudonym_key: bytes = field(repr=False)
    date_shift_key: bytes = field(repr=False)
    include: ConsentFilter | None = None
    max_suppressed_fraction: float = 0.05

    def column(self, name: str) -> Mapping:
        return next(c for c in self.columns if c["name"] == name)

    @property
    def output_columns(self) -> list[str]:
        """Permitted columns that may leave, in descriptor order (the subject as a pseudonym)."""
        out = []
        for column in self.columns:
            name = column["name"]
            if name not in self.permitted:
                continue
            if name == self.subject_column:
                out.append(name)
            elif column.get("role") == "direct_identifier":
                if column.get("identifier_kind") == "free_text":
                    out.append(name)
            else:
                out.append(name)
        return out

    @property
    def quasi_identifiers(self) -> list[generalise.Rule]:
        return [
            rule_of(self.column(name))
            for name in self.output_columns
            if name != self.subject_column and is_quasi_identifier(self.column(name))
        ]

    @property
    def l_diversity(self) -> dict[str, int]:
        return {
            name: int(self.column(name)["l_diversity"])
            for name in self.output_columns
            if self.column(name).get("role") == "sensitive" and self.column(name).get("l_diversity")
        }

    @property
    def forbidden_columns(self) -> list[str]:
        """Columns whose presence in the output is a leak."""
        return [
            c["name"]
            for c in self.columns
            if c.get("role") == "direct_identifier" and c.get("identifier_kind") != "free_text"
        ] + [SUBJECT_KEY]

    @property
    def own_identifiers(self) -> dict[str, str]:
        """The input's names, addresses, e-mails and phones, by column, with their kind: the
        leak scan makes sure no output cell holds one of them."""
        return {c["name"]: c["identifier_kind"] for c in self.columns
                if c.get("role") == "direct_identifier"
                and c.get("identifier_kind") in leaks.OWN_IDENTIFIER_KINDS}

    @property
    def input_columns(self) -> list[str]:
        """Columns to read from the data version: output and cohort concepts, the direct
        identifiers the leak scan compares the output with, and the subject key in place of the
        subject's CPR number (which the pipeline never needs)."""
        needed = set(self.output_columns) | {c["name"] for c in self.columns if c.get("concept")}
        needed |= set(self.own_identifiers)
        needed.discard(self.subject_column)
        return [c["name"] for c in self.columns if c["name"] in needed] + (
            [SUBJECT_KEY] if self.subject_column else []
        )

    @property
    def order_key(self) -> bytes:
        """The key of the rows' output order, derived from the permit's pseudonym key."""
        return hmac.new(self.pseudonym_key, b"extract row order", hashlib.sha256).digest()


@dataclass(frozen=True)
class Companion:
    """A dataset whose records join the assessed persons' records: another dataset of the same
    permit (levels chosen jointly), or one the company received under another permit (`fixed`:
    the levels it was released at, which the search cannot change any more)."""

    frames: Callable[[], Iterable[pd.DataFrame]]
    plan: ExtractPlan
    fixed: Mapping[str, int] | None = None


@dataclass(frozen=True)
class Selection:
    """Counts of pass 1, before anonymisation."""

    rows_read: int
    rows_selected: int
    rows_without_consent: int = 0
    rows_outside_cohort: int = 0


@dataclass(frozen=True)
class TablePart:
    """Pass 1's result for one chunk."""

    table: pd.DataFrame
    rows_read: int
    rows_without_consent: int = 0
    rows_outside_cohort: int = 0


@dataclass(frozen=True)
class ReleasedChunk:
    """Pass 2's result for one chunk: the rows that leave, the persons they belong to and each
    row's place in the keyed output order."""

    frame: pd.DataFrame
    subject_keys: np.ndarray
    order: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))


@dataclass(frozen=True)
class Decision:
    """What pass 1 decided: the generalisation node and the persons (or, for data without
    persons, the classes) that may be released."""

    anonymisation: kanon.Anonymisation  # for the extracted dataset: its columns and rows
    level_labels: dict[str, pd.Index]  # per quasi-identifier: its labels at the chosen level
    kept_keys: np.ndarray  # sorted class keys (see _class_keys) that may be released
    selection: Selection
    kept_persons: np.ndarray | None = None  # sorted person numbers that may be released
    datasets_assessed: int = 1

    @property
    def levels(self) -> dict[str, int]:
        return dict(zip(self.anonymisation.names, self.anonymisation.node, strict=True))

    def order_buckets(self, rows_per_bucket: int = ORDER_BUCKET_ROWS) -> int:
        rows_out = self.selection.rows_selected - self.anonymisation.rows_suppressed
        return max(1, -(-rows_out // max(rows_per_bucket, 1)))

    def manifest_fields(self, plan: ExtractPlan) -> dict[str, Any]:
        """What the manifest says about the anonymisation: per column the generalisation
        applied, why rows were dropped, and the re-identification risk of what is released."""
        anonymisation = self.anonymisation
        rules = {rule.column: rule for rule in plan.quasi_identifiers}
        described = {}
        for name in plan.output_columns:
            column = plan.column(name)
            if name == plan.subject_column:
                described[PSEUDONYM] = "pseudonym under the permit's key (replaces the CPR number)"
            elif name in rules:
                level = self.levels.get(name, 0)
                described[name] = generalise.describe_level(rules[name], level)
            elif column.get("identifier_kind") == "free_text":
                described[name] = "free text with CPR numbers redacted"
            else:
                described[name] = "as recorded (not a quasi-identifier)"
        return {
            "generalisation": described,
            "rows_dropped": {
                "consent": self.selection.rows_without_consent,
                "cohort": self.selection.rows_outside_cohort,
                "suppression": anonymisation.rows_suppressed,
            },
            "persons_in": anonymisation.persons_in,
            "persons_suppressed": anonymisation.persons_suppressed,
            "k_required": plan.k,
            "datasets_assessed": self.datasets_assessed,
            "risk": dict(anonymisation.risk),
            "risk_before": dict(anonymisation.risk_before),
        }


# --- filters -------------------------------------------------------------------------------


def distinct_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Per-row codes into the distinct values (a categorical's own dictionary when it has one)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories
    codes, uniques = pd.factorize(values, sort=False)
    return codes, pd.Index(uniques)


def _on_distinct(values: pd.Series, test: Callable[[pd.Index], np.ndarray]) -> np.ndarray:
    codes, uniques = distinct_codes(values)
    verdict = np.asarray(test(uniques), dtype=bool)
    return np.where(codes >= 0, verdict[np.maximum(codes, 0)], False)


def concept_column(columns: Sequence[Mapping], concept: str) -> str | None:
    """The column that carries a cohort concept (birth_date, sex, diagnosis, ...), if any."""
    return next((c["name"] for c in columns if c.get("concept") == concept), None)


def cohort_mask(
    frame: pd.DataFrame, *, columns: Sequence[Mapping], cohort: Mapping | None, reference_date: date
) -> np.ndarray:
    """Rows that meet the cohort; a criterion without a matching column is not applied."""
    cohort = cohort or {}
    mask = np.ones(len(frame), dtype=bool)
    if cohort.get("age"):
        low, high = cohort["age"]
        if column := concept_column(columns, "age"):
            mask &= _between(frame[column], low, high)
        elif column := concept_column(columns, "birth_date"):
            ages = generalise.age_years(frame[column], reference_date)
            mask &= ages.between(low, high).to_numpy()
    if cohort.get("sex") and (column := concept_column(columns, "sex")):
        wanted = {_SEX.get(str(s).lower(), str(s).lower()) for s in cohort["sex"]}
        mask &= _on_distinct(
            frame[column],
            lambda u: np.array([_SEX.get(str(v).lower(), str(v).lower()) in wanted for v in u]),
        )
    if cohort.get("diagnoses") and (column := concept_column(columns, "diagnosis")):
        prefixes = tuple(str(d).upper() for d in cohort["diagnoses"])
        mask &= _on_distinct(
            frame[column], lambda u: pd.Index(u).astype(str).str.upper().str.startswith(prefixes)
        )
    if cohort.get("municipalities"):
        wanted = {str(m).lstrip("0") for m in cohort["municipalities"]}
        if column := concept_column(columns, "municipality"):
            mask &= _on_distinct(
                frame[column], lambda u: pd.Index(u).astype(str).str.lstrip("0").isin(wanted)
            )
        elif column := concept_column(columns, "postcode"):
            mask &= _on_distinct(
                frame[column],
                lambda u: generalise.municipality_of_postcode(u).isin(wanted),
            )
    period = cohort.get("period") or {}
    column = concept_column(columns, "event_date")
    if (period.get("start") or period.get("end")) and column:
        moments = pd.to_datetime(frame[column], errors="coerce")
        if period.get("start"):
            mask &= (moments >= pd.Timestamp(period["start"])).to_numpy()
        if period.get("end"):
            mask &= (moments <= pd.Timestamp(period["end"])).to_numpy()
    return mask


def _between(values: pd.Series, low: float, high: float) -> np.ndarray:
    """Rows whose number lies in [low, high]; a missing or non-numeric value never does.

    On the numbers themselves when the column holds numbers (ages computed once per data
    version do): pandas' own comparison costs more than the cohort estimate around it.
    """
    numbers = values.to_numpy()
    if numbers.dtype.kind not in "iuf":
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64",
                                                                  na_value=np.nan)
    return (numbers >= low) & (numbers <= high)


def selection_mask(frame: pd.DataFrame, plan: ExtractPlan) -> tuple[np.ndarray, int, int]:
    """Rows with consent (as of approval) that meet the cohort, and the rows dropped by each."""
    consent = np.ones(len(frame), dtype=bool)
    include = plan.include
    if include is not None and SUBJECT_KEY in frame:
        # Consent is a property of the person: evaluate it once per distinct subject key.
        consent = _on_distinct(frame[SUBJECT_KEY],
                               lambda keys: include(pd.Series(keys.astype("str"))))
    cohort = cohort_mask(
        frame, columns=plan.columns, cohort=plan.cohort, reference_date=plan.reference_date
    )
    mask = consent & cohort
    return mask, int((~consent).sum()), int((consent & ~cohort).sum())


def select(frame: pd.DataFrame, plan: ExtractPlan) -> pd.DataFrame:
    """Apply the consent filter (as of approval) and the cohort filter."""
    return frame.loc[selection_mask(frame, plan)[0]]


# --- generalisation --------------------------------------------------------------------------


def _person(frame: pd.DataFrame, plan: ExtractPlan) -> pd.Series | None:
    """Who each row is about: the stored blind index, so the CPR column is never read."""
    if SUBJECT_KEY in frame:
        return frame[SUBJECT_KEY]
    return frame.get(plan.subject_column)


def _shift_days(frame: pd.DataFrame, plan: ExtractPlan, rule: generalise.Rule) -> np.ndarray:
    max_days = int(rule.spec.get("max_days", DEFAULT_SHIFT_DAYS))
    person = _person(frame, plan)
    if person is None:
        return np.zeros(len(frame), dtype=np.int64)
    return day_offsets(person, key=plan.date_shift_key, max_days=max_days)


def base_generalised(frame: pd.DataFrame, plan: ExtractPlan) -> dict[str, pd.Series]:
    """Quasi-identifiers at the descriptor's level, as categoricals of labels."""
    return {
        rule.column: generalise.base_labels(
            frame[rule.column],
            rule,
            reference=plan.reference_date,
            offsets=_shift_days(frame, plan, rule) if rule.needs_person else None,
        )
        for rule in plan.quasi_identifiers
    }


def _as_category(values: pd.Series) -> pd.Series:
    return values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")


def _person_hash(keys: pd.Series) -> np.ndarray:
    """A 64-bit number per row for the person, computed once per distinct subject key."""
    codes, uniques = distinct_codes(keys)
    numbers = person_numbers(uniques)
    return np.where(codes >= 0, numbers[np.maximum(codes, 0)], 0).astype(np.uint64)


@dataclass(frozen=True)
class Prepared:
    """One chunk filtered and generalised to the descriptor's level: what both passes start
    from (kept between them when the extract is small enough, see `run_pandas`)."""

    selected: pd.DataFrame
    positions: np.ndarray  # of the selected rows within the chunk
    labels: dict[str, pd.Series]
    persons: np.ndarray
    rows_read: int
    rows_without_consent: int
    rows_outside_cohort: int


def prepare(frame: pd.DataFrame, plan: ExtractPlan) -> Prepared:
    """Select (consent, cohort) and generalise one chunk to the descriptor's level."""
    mask, without_consent, outside_cohort = selection_mask(frame, plan)
    positions = np.flatnonzero(mask)
    selected = frame.iloc[positions]
    persons = (_person_hash(selected[SUBJECT_KEY]) if SUBJECT_KEY in selected
               else np.zeros(len(selected), dtype=np.uint64))
    return Prepared(selected=selected, positions=positions,
                    labels=base_generalised(selected, plan), persons=persons,
                    rows_read=len(frame), rows_without_consent=without_consent,
                    rows_outside_cohort=outside_cohort)


def class_table_part(frame: pd.DataFrame | Prepared, plan: ExtractPlan) -> TablePart:
    """Pass 1 on one chunk: its contribution to the class table (categorical, deduplicated)."""
    prepared = frame if isinstance(frame, Prepared) else prepare(frame, plan)
    selected = prepared.selected
    parts: dict[str, pd.Series | np.ndarray] = {
        name: series.reset_index(drop=True) for name, series in prepared.labels.items()
    }
    if SUBJECT_KEY in selected:
        parts[kanon.PERSON] = prepared.persons
    for name in plan.l_diversity:
        parts[name] = _as_category(selected[name].astype(str)).reset_index(drop=True)
    parts[kanon.ROWS] = np.ones(len(selected), dtype=np.int32)
    table = pd.DataFrame(parts, index=pd.RangeIndex(len(selected)))
    merged = _merge_parts([TablePart(table, prepared.rows_read)])
    return replace(merged, rows_without_consent=prepared.rows_without_consent,
                   rows_outside_cohort=prepared.rows_outside_cohort)


def _merge_parts(parts: Sequence[TablePart], *, deduplicate: bool = True) -> TablePart:
    """Concatenate class-table parts on shared dictionaries (and add up duplicate entries).

    Duplicates across parts do not change the assessment (a record is the sum of its entries'
    rows, persons are counted as distinct values), so the final merge skips deduplicating and
    saves its memory.
    """
    tables = [p.table for p in parts if len(p.table.columns)]
    counts = {"rows_read": sum(p.rows_read for p in parts),
              "rows_without_consent": sum(p.rows_without_consent for p in parts),
              "rows_outside_cohort": sum(p.rows_outside_cohort for p in parts)}
    if not tables:
        return TablePart(pd.DataFrame({kanon.ROWS: np.zeros(0, dtype=np.int64)}), **counts)
    table = _stack(tables, list(tables[0].columns))
    keys = [c for c in table.columns if c != kanon.ROWS]
    if deduplicate and keys and len(table):
        table = table.groupby(keys, sort=False, observed=True).agg({kanon.ROWS: "sum"})
        table = table.reset_index()
    return TablePart(table, **counts)


def _text_categories(array: pd.Categorical) -> pd.Categorical:
    """The same values with their labels as text: datasets of one permit (and an all-missing
    filler) may label a column with different types, and categories unite only when alike."""
    if array.categories.dtype == object and all(isinstance(c, str) for c in array.categories):
        return array
    return array.rename_categories([str(c) for c in array.categories])


def _stack(tables: Sequence[pd.DataFrame], names: Sequence[str], *,
           unknown: Sequence[str] = ()) -> pd.DataFrame:
    """Stack tables column by column, categoricals on their united dictionary. A column that a
    table lacks is filled with the placeholder label, or left missing for `unknown` columns."""
    columns = {}
    for name in names:
        pieces = [t.get(name) for t in tables]
        if all(p is not None and not isinstance(p.dtype, pd.CategoricalDtype) for p in pieces):
            columns[name] = pd.Series(np.concatenate([p.to_numpy() for p in pieces]))
            continue
        filler = None if name in unknown else _PLACEHOLDER
        arrays = [pd.Categorical([filler] * len(t)) if p is None else _as_category(p).array
                  for p, t in zip(pieces, tables, strict=True)]
        columns[name] = pd.Series(pd.api.types.union_categoricals(
            [_text_categories(a) for a in arrays], sort_categories=True))
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class _Assessed:
    """One dataset's class table in the joint assessment."""

    plan: ExtractPlan
    part: TablePart
    fixed: Mapping[str, int] | None


def decide(parts: list[TablePart], plan: ExtractPlan,
           companions: Sequence[tuple[list[TablePart], Companion]] = ()) -> Decision:
    """Merge the class-table parts (the extracted dataset's and its companions') and choose
    what may be released.

    The lists are emptied once merged, so the parts' memory is free for the search.
    """
    assessed = [_Assessed(plan, _merge_parts(parts, deduplicate=False), None)]
    parts.clear()
    if plan.subject_column is not None:
        for companion_parts, companion in companions:
            if companion.plan.subject_column is None:
                continue  # rows about nobody in particular cannot join a person's record
            assessed.append(_Assessed(companion.plan,
                                      _merge_parts(companion_parts, deduplicate=False),
                                      companion.fixed))
            companion_parts.clear()
    own = assessed[0].part
    by_person = kanon.PERSON in own.table
    if not by_person:
        assessed = assessed[:1]

    # One lattice dimension per quasi-identifier; the permit's datasets share a dimension for
    # columns of the same name and rule, data released under other permits keep their own.
    rules: dict[str, generalise.Rule] = {}
    fixed_levels: dict[str, int] = {}
    own_dimension: dict[str, str] = {}
    tables = []
    for number, item in enumerate(assessed):
        renamed = {}
        for rule in item.plan.quasi_identifiers:
            dimension = rule.column
            if item.fixed is not None or (dimension in rules and rules[dimension] != rule):
                dimension = f"{number}:{rule.column}"
            rules.setdefault(dimension, rule)
            if item.fixed is not None:
                fixed_levels[dimension] = int(item.fixed.get(rule.column, 0))
            renamed[rule.column] = dimension
            if number == 0:
                own_dimension[rule.column] = dimension
        table = item.part.table.rename(columns=renamed)
        if number:
            table = table.drop(columns=[c for c in plan.l_diversity if c in table])
        table[DATASET] = pd.Categorical([str(number)] * len(table))
        tables.append(table)
    names = [*rules, DATASET, kanon.ROWS, *([kanon.PERSON] if by_person else []),
             *plan.l_diversity]
    table = (_stack(tables, names, unknown=list(plan.l_diversity)) if len(tables) > 1
             else tables[0])
    own_entries = (table[DATASET] == "0").to_numpy() if len(tables) > 1 else None
    del tables
    for dimension in rules:
        if dimension not in table:
            table[dimension] = pd.Series(pd.Categorical([]), index=table.index)
    hierarchies = [
        kanon.hierarchy_from_levels(
            dimension,
            pd.Index(_as_category(table[dimension]).cat.categories.astype(str)),
            generalise.coarser_levels(rule),
        )
        for dimension, rule in rules.items()
    ]
    hierarchies.append(kanon.hierarchy_from_levels(
        DATASET, pd.Index(_as_category(table[DATASET]).cat.categories.astype(str)), []))
    bottom = [min(fixed_levels.get(h.name, 0), h.height) for h in hierarchies]
    top = [min(fixed_levels[h.name], h.height) if h.name in fixed_levels else h.height
           for h in hierarchies]
    classes = kanon.ClassTable(table, hierarchies, sensitive=list(plan.l_diversity))
    own_persons = own_rows = None
    if by_person:
        own_persons = table[kanon.PERSON].to_numpy()
        own_rows = table[kanon.ROWS].to_numpy()
        if own_entries is not None:
            own_persons, own_rows = own_persons[own_entries], own_rows[own_entries]
    del table  # the prepared codes are all the search needs
    requirement = kanon.Requirement(
        k=max([plan.k] + [item.plan.k for item in assessed[1:]]),
        l_diversity=plan.l_diversity,
        max_suppressed_fraction=plan.max_suppressed_fraction,
    )
    result = kanon.anonymise(classes, requirement, bottom=bottom, top=top)
    level_of = dict(zip(result.names, result.node, strict=True))
    own_rules = plan.quasi_identifiers
    level_labels = {
        rule.column: pd.Index(h.labels[level_of[h.name]].astype(str))
        for rule in own_rules
        for h in hierarchies if h.name == own_dimension[rule.column]
    }
    kept_keys = np.zeros(0, dtype=np.int64)
    if own_persons is not None and own_rows is not None and result.kept_persons is not None:
        kept = _sorted_member(own_persons, result.kept_persons)
        own_suppressed = int(own_rows[~kept].sum())
    else:
        own_suppressed = result.rows_suppressed
        if own_rules:
            kept_frame = result.kept_classes
            kept_keys = np.sort(_class_keys(
                {name: labels.get_indexer(pd.Index(kept_frame[own_dimension[name]].astype(str)))
                 for name, labels in level_labels.items()},
                level_labels,
            ))
    own_result = replace(
        result,
        names=tuple(rule.column for rule in own_rules),
        node=tuple(level_of[own_dimension[rule.column]] for rule in own_rules),
        rows_in=int(own.rows_read - own.rows_without_consent - own.rows_outside_cohort),
        rows_suppressed=own_suppressed,
    )
    return Decision(
        anonymisation=own_result,
        level_labels=level_labels,
        kept_keys=kept_keys,
        kept_persons=result.kept_persons,
        selection=Selection(
            rows_read=own.rows_read,
            rows_selected=own_result.rows_in,
            rows_without_consent=own.rows_without_consent,
            rows_outside_cohort=own.rows_outside_cohort,
        ),
        datasets_assessed=len(assessed),
    )


def _class_keys(codes: Mapping[str, np.ndarray], level_labels: Mapping[str, pd.Index]
                ) -> np.ndarray:
    """One integer per equivalence class (mixed radix over the labels at the chosen level);
    -1 where a label is not one the decision knows (such rows are never released)."""
    names = list(level_labels)
    size = len(next(iter(codes.values()))) if codes else 0
    key = np.zeros(size, dtype=np.int64)
    unknown = np.zeros(size, dtype=bool)
    for name in names:
        width = len(level_labels[name])
        key = key * width + np.maximum(codes[name], 0)
        unknown |= codes[name] < 0
    key[unknown] = -1
    return key


def _row_codes(series: pd.Series, labels: pd.Index) -> np.ndarray:
    cat = _as_category(series)
    per_category = labels.get_indexer(pd.Index(cat.cat.categories.astype(str)))
    codes = cat.cat.codes.to_numpy()
    return np.where(codes >= 0, per_category[np.maximum(codes, 0)], -1)


def _sorted_member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    position = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[position] == values


# --- pass 2 ----------------------------------------------------------------------------------


def row_order(row_numbers: np.ndarray, persons: np.ndarray, *, key: bytes) -> np.ndarray:
    """Each row's place in the output order: a PRF (AES under a key derived from the permit's)
    of its position in the data version and its person. Without the key the order says nothing
    about the upload's order; with the same data and permit it is the same every time."""
    blocks = np.empty((len(row_numbers), 2), dtype="<u8")
    blocks[:, 0] = row_numbers
    blocks[:, 1] = persons
    out = prf_blocks(key, blocks.view(np.uint8).reshape(-1, 16))
    return np.ascontiguousarray(out[:, :8]).view("<u8").ravel()


def _in_bucket(order: np.ndarray, bucket: tuple[int, int]) -> np.ndarray:
    number, buckets = bucket
    if buckets == 1:
        return np.ones(len(order), dtype=bool)
    # Buckets are ranges of the order, so sorted buckets in turn are the whole sorted order.
    top = (order >> np.uint64(32)).astype(np.uint64)
    return (top * np.uint64(buckets)) >> np.uint64(32) == np.uint64(number)


def release_chunk(frame: pd.DataFrame | Prepared, plan: ExtractPlan, decision: Decision, *,
                  first_row: int = 0, bucket: tuple[int, int] = (0, 1)) -> ReleasedChunk:
    """Pass 2 on one chunk (whose first row is row `first_row` of the data version): the
    de-identified rows of `bucket` that may leave, or raise LeakFound."""
    prepared = frame if isinstance(frame, Prepared) else prepare(frame, plan)
    selected, positions, persons = prepared.selected, prepared.positions, prepared.persons
    labels = dict(prepared.labels)
    rules = plan.quasi_identifiers
    for rule, level in zip(rules, decision.anonymisation.node, strict=True):
        labels[rule.column] = generalise.apply_level(labels[rule.column], rule, level)
    if decision.kept_persons is not None:
        keep = _sorted_member(persons, decision.kept_persons)
    elif rules:
        keys = _class_keys(
            {name: _row_codes(labels[name], decision.level_labels[name])
             for name in decision.level_labels},
            decision.level_labels,
        )
        keep = _sorted_member(keys, decision.kept_keys) & (keys >= 0)
    else:
        keep = np.full(len(selected), decision.anonymisation.rows_suppressed == 0)
    order = row_order((first_row + positions).astype(np.uint64), persons, key=plan.order_key)
    keep &= _in_bucket(order, bucket)
    kept = selected.loc[keep] if len(selected) else selected
    out: dict[str, pd.Series] = {}
    for name in plan.output_columns:
        column = plan.column(name)
        if name == plan.subject_column:
            out[PSEUDONYM] = pseudonymise(_person(kept, plan), key=plan.pseudonym_key)
        elif name in labels:
            out[name] = labels[name].loc[keep]
        elif column.get("identifier_kind") == "free_text":
            out[name] = leaks.redact_cprs(kept[name])
        else:
            out[name] = kept[name]
    result = pd.DataFrame(
        {n: s.reset_index(drop=True) for n, s in out.items()},
        index=pd.RangeIndex(len(kept)),
    )
    _scan(result, plan)
    _scan_own_identifiers(result, selected, kept, plan)
    subjects = np.array([], dtype=object)
    if SUBJECT_KEY in kept:
        codes, keys = distinct_codes(kept[SUBJECT_KEY])
        used = np.unique(codes[codes >= 0])
        subjects = np.asarray(keys[used].astype(str), dtype=object)
    return ReleasedChunk(frame=result, subject_keys=subjects, order=order[keep])


def _scan(result: pd.DataFrame, plan: ExtractPlan) -> None:
    present = [name for name in plan.forbidden_columns if name in result.columns]
    if present:
        raise leaks.LeakFound([f"direct identifier column {name!r} present" for name in present])
    if len(result):  # an empty chunk holds no value to scan
        leaks.scan(result, forbidden_columns=plan.forbidden_columns)


def _scan_own_identifiers(result: pd.DataFrame, selected: pd.DataFrame, kept: pd.DataFrame,
                          plan: ExtractPlan) -> None:
    """No output cell may hold a name, address, e-mail or phone of the chunk's persons, nor a
    row its own person's birth date."""
    birth = concept_column(plan.columns, "birth_date")
    kinds = plan.own_identifiers
    if not len(result) or (not kinds and birth is None):
        return
    own = leaks.own_identifiers(selected, kinds)
    births = kept[birth] if birth is not None and birth in kept else None
    leaks.scan_own_identifiers(result, own, birth_dates=births,
                               skip=[PSEUDONYM] + ([birth] if birth else []))


def in_keyed_order(chunks: Iterable[ReleasedChunk], *, rows_per_group: int = ROW_GROUP_ROWS
                   ) -> Iterator[ReleasedChunk]:
    """Put released chunks (one bucket) in their keyed order, in pieces of `rows_per_group`."""
    gathered = list(chunks)
    if not gathered:
        return
    frame = concat_released(gathered)
    order = np.concatenate([c.order for c in gathered])
    subjects = np.concatenate([c.subject_keys for c in gathered])
    del gathered
    permutation = np.argsort(order, kind="stable")
    frame = frame.take(permutation).reset_index(drop=True)
    for start in range(0, max(len(frame), 1), rows_per_group):
        yield ReleasedChunk(frame=frame.iloc[start:start + rows_per_group].reset_index(drop=True),
                            subject_keys=subjects if start == 0 else np.array([], dtype=object),
                            order=order[permutation[start:start + rows_per_group]])


# --- executors --------------------------------------------------------------------------------


@dataclass
class Released:
    """A finished run: the decision and the released chunks (consumed lazily by the writer),
    in keyed order."""

    decision: Decision
    chunks: Iterator[ReleasedChunk]


def _with_offsets(frames: Iterable[pd.DataFrame]) -> Iterator[tuple[pd.DataFrame, int]]:
    first = 0
    for frame in frames:
        yield frame, first
        first += len(frame)


def _release_at(item: tuple[pd.DataFrame | Prepared, int], plan: ExtractPlan, decision: Decision,
                bucket: tuple[int, int]) -> ReleasedChunk:
    frame, first_row = item
    return release_chunk(frame, plan, decision, first_row=first_row, bucket=bucket)


def run_pandas(
    frames: Callable[[], Iterable[pd.DataFrame]],
    plan: ExtractPlan,
    *,
    companions: Sequence[Companion] = (),
    on_chunk: Callable[[int, int], None] | None = None,
    rows_per_bucket: int = ORDER_BUCKET_ROWS,
    rows_kept_between_passes: int = KEPT_BETWEEN_PASSES_ROWS,
) -> Released:
    """Run both passes over chunks from `frames()`; release chunks lazily, in keyed order.

    A selection of at most `rows_kept_between_passes` rows is kept prepared from pass 1 to
    pass 2; a larger one is read again (`frames()` is called once per pass and order bucket).
    `on_chunk(pass_number, chunk_number)` is called after every chunk, for progress reporting.
    """
    parts = []
    kept: list[tuple[Prepared, int]] | None = []
    first, kept_rows = 0, 0
    for number, frame in enumerate(frames()):
        prepared = prepare(frame, plan)
        parts.append(class_table_part(prepared, plan))
        kept_rows += len(prepared.selected)
        if kept is not None and kept_rows <= rows_kept_between_passes:
            kept.append((prepared, first))
        else:
            kept = None
        first += len(frame)
        del prepared
        if on_chunk:
            on_chunk(1, number)
    joined = [([class_table_part(frame, c.plan) for frame in c.frames()], c) for c in companions]
    decision = decide(parts, plan, joined)
    buckets = decision.order_buckets(rows_per_bucket)

    def handed_over(items: list[tuple[Prepared, int]]) -> Iterator[tuple[Prepared, int]]:
        items.reverse()
        while items:  # each prepared chunk is let go once released
            yield items.pop()

    def bucket_chunks(bucket: int) -> Iterator[ReleasedChunk]:
        source: Iterable[tuple[pd.DataFrame | Prepared, int]] = (
            handed_over(kept) if kept is not None and buckets == 1 else _with_offsets(frames()))
        for number, item in enumerate(source):
            yield _release_at(item, plan, decision, (bucket, buckets))
            if on_chunk and bucket == buckets - 1:
                on_chunk(2, number)

    def chunks() -> Iterator[ReleasedChunk]:
        for bucket in range(buckets):
            yield from in_keyed_order(bucket_chunks(bucket))

    return Released(decision=decision, chunks=chunks())


def run_dask(
    frames: Callable[[], Iterable[pd.DataFrame]],
    plan: ExtractPlan,
    *,
    client,
    companions: Sequence[Companion] = (),
    in_flight: int = 4,
    on_chunk: Callable[[int, int], None] | None = None,
    rows_per_bucket: int = ORDER_BUCKET_ROWS,
) -> Released:
    """Run both passes on a Dask cluster (`client`: a `distributed.Client`), chunk by chunk.

    The chunks of `frames()` go to the workers with at most `in_flight` of them outstanding,
    and pass 2's chunks come back in order, lazily, one order bucket at a time, so the caller
    can write them one by one: nothing collects more than a bucket. Pass 1 and pass 2 are the
    very functions the pandas path uses, so the output is identical to `run_pandas` over the
    same chunks. Workers receive the plan with the permit's derived keys, never the master key.
    """
    parts = []
    for number, part in enumerate(_in_order(client, class_table_part, frames(), plan,
                                            in_flight=in_flight)):
        parts.append(part)
        if on_chunk:
            on_chunk(1, number)
    joined = [(list(_in_order(client, class_table_part, c.frames(), c.plan,
                              in_flight=in_flight)), c) for c in companions]
    decision = decide(parts, plan, joined)
    buckets = decision.order_buckets(rows_per_bucket)

    def bucket_chunks(bucket: int) -> Iterator[ReleasedChunk]:
        for number, chunk in enumerate(_in_order(client, _release_at, _with_offsets(frames()),
                                                 plan, decision, (bucket, buckets),
                                                 in_flight=in_flight)):
            yield chunk
            if on_chunk and bucket == buckets - 1:
                on_chunk(2, number)

    def chunks() -> Iterator[ReleasedChunk]:
        for bucket in range(buckets):
            yield from in_keyed_order(bucket_chunks(bucket))

    return Released(decision=decision, chunks=chunks())


def _in_order(client, function: Callable, frames: Iterable[Any], *args: object,
              in_flight: int) -> Iterator:
    """Submit `function(frame, *args)` per frame, keeping at most `in_flight` outstanding;
    yield the results in the frames' order."""
    pending: deque = deque()
    try:
        for frame in frames:
            pending.append(client.submit(function, frame, *args, pure=False))
            if len(pending) >= in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def concat_released(released: Iterable[ReleasedChunk]) -> pd.DataFrame:
    """Join released chunks into one frame, with categorical columns on a shared dictionary."""
    chunks = [r.frame for r in released]
    if not chunks:
        return pd.DataFrame()
    columns = {}
    for name in chunks[0].columns:
        pieces = [c[name] for c in chunks]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in pieces):
            columns[name] = pd.Series(
                pd.api.types.union_categoricals([p.array for p in pieces])
            )
        else:
            columns[name] = pd.concat(pieces, ignore_index=True)
    return pd.DataFrame(columns)
