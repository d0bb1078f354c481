"""The extract pipeline as pure functions over DataFrames, for pandas chunks and Dask partitions.

consent filter -> cohort filter -> minimise -> pseudonymise -> generalise -> k-anonymity
(+ l-diversity) -> leak scan.

k-anonymity is a property of the whole extract, so the pipeline makes two passes:
1. every chunk is filtered and generalised to the descriptor's level and reduced to a small class
   table (distinct quasi-identifier labels x person x sensitive value, with row counts);
   the tables are merged and the generalisation search picks the level and the classes to keep;
2. every chunk is filtered, generalised to the chosen level, cut to the kept classes,
   pseudonymised and scanned.
Both passes hold one chunk at a time, so memory is bounded by the chunk size and the class
table. The same two functions run per Dask partition; the merge and the search run once.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from marketplace.delivery import generalise, kanon, leaks
from marketplace.delivery.pseudonymise import day_offsets, person_numbers, pseudonymise

SUBJECT_KEY = "_subject_key"
PSEUDONYM = "pseudonym"
DEFAULT_SHIFT_DAYS = 30
_SEX = {"m": "male", "male": "male", "mand": "male", "k": "female", "f": "female",
        "female": "female", "kvinde": "female"}

ConsentFilter = Callable[[pd.Series], np.ndarray]


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
            generalise.rule_for(self.column(name))
            for name in self.output_columns
            if self.column(name).get("role") == "quasi_identifier"
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
    def input_columns(self) -> list[str]:
        """Columns to read from the data version: output and cohort concepts, and the subject
        key in place of the subject's CPR number (which the pipeline never needs)."""
        needed = set(self.output_columns) | {c["name"] for c in self.columns if c.get("concept")}
        needed.discard(self.subject_column)
        return [c["name"] for c in self.columns if c["name"] in needed] + (
            [SUBJECT_KEY] if self.subject_column else []
        )


@dataclass(frozen=True)
class Selection:
    """Counts of pass 1, before anonymisation."""

    rows_read: int
    rows_selected: int


@dataclass(frozen=True)
class TablePart:
    """Pass 1's result for one chunk."""

    table: pd.DataFrame
    rows_read: int


@dataclass(frozen=True)
class ReleasedChunk:
    """Pass 2's result for one chunk: the rows that leave and the persons they belong to."""

    frame: pd.DataFrame
    subject_keys: np.ndarray


@dataclass(frozen=True)
class Decision:
    """What pass 1 decided: the generalisation node and the classes that may be released."""

    anonymisation: kanon.Anonymisation
    level_labels: dict[str, pd.Index]  # per quasi-identifier: its labels at the chosen level
    kept_keys: np.ndarray  # sorted class keys (see _class_keys) that may be released
    selection: Selection


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
            ages = pd.to_numeric(frame[column], errors="coerce")
            mask &= ages.between(low, high).to_numpy()
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


def select(frame: pd.DataFrame, plan: ExtractPlan) -> pd.DataFrame:
    """Apply the consent filter (as of approval) and the cohort filter."""
    mask = cohort_mask(
        frame, columns=plan.columns, cohort=plan.cohort, reference_date=plan.reference_date
    )
    if plan.include is not None and SUBJECT_KEY in frame:
        # Consent is a property of the person: evaluate it once per distinct subject key.
        mask &= _on_distinct(frame[SUBJECT_KEY],
                             lambda keys: plan.include(pd.Series(keys.astype("str"))))
    return frame.loc[mask]


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


def class_table_part(frame: pd.DataFrame, plan: ExtractPlan) -> TablePart:
    """Pass 1 on one chunk: its contribution to the class table (categorical, deduplicated)."""
    selected = select(frame, plan)
    parts: dict[str, pd.Series | np.ndarray] = {
        name: series.reset_index(drop=True)
        for name, series in base_generalised(selected, plan).items()
    }
    if SUBJECT_KEY in selected:
        parts[kanon.PERSON] = _person_hash(selected[SUBJECT_KEY])
    for name in plan.l_diversity:
        parts[name] = _as_category(selected[name].astype(str)).reset_index(drop=True)
    parts[kanon.ROWS] = np.ones(len(selected), dtype=np.int32)
    table = pd.DataFrame(parts, index=pd.RangeIndex(len(selected)))
    return _merge_parts([TablePart(table, len(frame))])


def _merge_parts(parts: Sequence[TablePart], *, deduplicate: bool = True) -> TablePart:
    """Concatenate class-table parts on shared dictionaries (and add up duplicate entries).

    Duplicates across parts do not change the counts (persons are counted as distinct values,
    rows are summed), so the final merge skips deduplicating and saves its memory.
    """
    tables = [p.table for p in parts if len(p.table.columns)]
    rows_read = sum(p.rows_read for p in parts)
    if not tables:
        return TablePart(pd.DataFrame({kanon.ROWS: np.zeros(0, dtype=np.int64)}), rows_read)
    columns = {}
    for name in tables[0].columns:
        pieces = [t[name] for t in tables]
        if isinstance(pieces[0].dtype, pd.CategoricalDtype):
            columns[name] = pd.Series(pd.api.types.union_categoricals(
                [p.array for p in pieces], sort_categories=True))
        else:
            columns[name] = pd.Series(np.concatenate([p.to_numpy() for p in pieces]))
    table = pd.DataFrame(columns)
    keys = [c for c in table.columns if c != kanon.ROWS]
    if deduplicate and keys and len(table):
        table = table.groupby(keys, sort=False, observed=True).agg({kanon.ROWS: "sum"})
        table = table.reset_index()
    return TablePart(table, rows_read)


def decide(parts: list[TablePart], plan: ExtractPlan) -> Decision:
    """Merge the class-table parts and choose what may be released.

    The list is emptied once merged, so the parts' memory is free for the search.
    """
    merged = _merge_parts(parts, deduplicate=False)
    parts.clear()
    table, rows_read = merged.table, merged.rows_read
    rules = plan.quasi_identifiers
    for rule in rules:
        if rule.column not in table:
            table[rule.column] = pd.Series(pd.Categorical([]), index=table.index)
    hierarchies = [
        kanon.hierarchy_from_levels(
            rule.column,
            pd.Index(_as_category(table[rule.column]).cat.categories.astype(str)),
            generalise.coarser_levels(rule),
        )
        for rule in rules
    ]
    classes = kanon.ClassTable(table, hierarchies, sensitive=list(plan.l_diversity))
    del table, merged  # the prepared codes are all the search needs
    requirement = kanon.Requirement(
        k=plan.k,
        l_diversity=plan.l_diversity,
        max_suppressed_fraction=plan.max_suppressed_fraction,
    )
    result = kanon.anonymise(classes, requirement)
    level_labels = {
        h.name: pd.Index(h.labels[level].astype(str))
        for h, level in zip(hierarchies, result.node, strict=True)
    }
    kept = result.kept_classes
    kept_keys = np.sort(_class_keys(
        {name: labels.get_indexer(pd.Index(kept[name].astype(str)))
         for name, labels in level_labels.items()},
        level_labels,
    )) if rules else np.zeros(0, dtype=np.int64)
    return Decision(
        anonymisation=result,
        level_labels=level_labels,
        kept_keys=kept_keys,
        selection=Selection(rows_read=rows_read, rows_selected=classes.total_rows),
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


# --- pass 2 ----------------------------------------------------------------------------------


def release_chunk(frame: pd.DataFrame, plan: ExtractPlan, decision: Decision) -> ReleasedChunk:
    """Pass 2 on one chunk: the de-identified rows that may leave, or raise LeakFound."""
    selected = select(frame, plan)
    labels = base_generalised(selected, plan)
    rules = plan.quasi_identifiers
    for rule, level in zip(rules, decision.anonymisation.node, strict=True):
        labels[rule.column] = generalise.apply_level(labels[rule.column], rule, level)
    if rules:
        keys = _class_keys(
            {name: _row_codes(labels[name], decision.level_labels[name])
             for name in decision.level_labels},
            decision.level_labels,
        )
        position = np.minimum(np.searchsorted(decision.kept_keys, keys),
                              max(len(decision.kept_keys) - 1, 0))
        keep = (decision.kept_keys[position] == keys) & (keys >= 0) if len(
            decision.kept_keys) else np.zeros(len(keys), dtype=bool)
    else:
        keep = np.full(len(selected), len(decision.anonymisation.kept_classes) > 0)
    kept = selected.loc[keep]
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
    leaks.scan(result, forbidden_columns=plan.forbidden_columns)
    subjects = np.array([], dtype=object)
    if SUBJECT_KEY in kept:
        codes, keys = distinct_codes(kept[SUBJECT_KEY])
        used = np.unique(codes[codes >= 0])
        subjects = np.asarray(keys[used].astype(str), dtype=object)
    return ReleasedChunk(frame=result, subject_keys=subjects)


# --- executors --------------------------------------------------------------------------------


@dataclass
class Released:
    """A finished run: the decision and the released chunks (consumed lazily by the writer)."""

    decision: Decision
    chunks: Iterator[ReleasedChunk]


def run_pandas(
    frames: Callable[[], Iterable[pd.DataFrame]],
    plan: ExtractPlan,
    *,
    on_chunk: Callable[[int, int], None] | None = None,
) -> Released:
    """Run both passes over chunks from `frames()` (called twice); release chunks lazily.

    `on_chunk(pass_number, chunk_number)` is called after every chunk, for progress reporting.
    """
    parts = []
    for number, frame in enumerate(frames()):
        parts.append(class_table_part(frame, plan))
        if on_chunk:
            on_chunk(1, number)
    decision = decide(parts, plan)

    def chunks() -> Iterator[ReleasedChunk]:
        for number, frame in enumerate(frames()):
            yield release_chunk(frame, plan, decision)
            if on_chunk:
                on_chunk(2, number)

    return Released(decision=decision, chunks=chunks())


def run_dask(
    frames: Callable[[], Iterable[pd.DataFrame]],
    plan: ExtractPlan,
    *,
    client,
    in_flight: int = 4,
    on_chunk: Callable[[int, int], None] | None = None,
) -> Released:
    """Run both passes on a Dask cluster (`client`: a `distributed.Client`), chunk by chunk.

    The chunks of `frames()` (called twice) go to the workers with at most `in_flight` of them
    outstanding, and pass 2's chunks come back in order, lazily, so the caller can write them
    one by one: nothing collects the whole extract. Pass 1 and pass 2 are the very functions
    the pandas path uses, so the output is identical to `run_pandas` over the same chunks.
    Workers receive the plan with the permit's derived keys, never the master key.
    """
    parts = []
    for number, part in enumerate(_in_order(client, class_table_part, frames(), plan,
                                            in_flight=in_flight)):
        parts.append(part)
        if on_chunk:
            on_chunk(1, number)
    decision = decide(parts, plan)

    def chunks() -> Iterator[ReleasedChunk]:
        for number, chunk in enumerate(_in_order(client, release_chunk, frames(), plan,
                                                 decision, in_flight=in_flight)):
            yield chunk
            if on_chunk:
                on_chunk(2, number)

    return Released(decision=decision, chunks=chunks())


def _in_order(client, function: Callable, frames: Iterable[pd.DataFrame], *args: object,
              in_flight: int) -> Iterator:
    """Submit `function(frame, *args)` per frame, keeping at most `in_flight` outstanding;
    yield the results in the frames' order."""
    pending = deque()
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
