"""Validate data against a column dictionary with Great Expectations (pure: DataFrames in,
plain reports out).

The column dictionary becomes an expectation suite. Checks that GX would run row by row in
Python (date ranges, CPR validity, type conversion) are turned into vectorised integer or flag
columns first, so every expectation GX evaluates is a vectorised pandas operation. Data arrives
in chunks; `QualityAccumulator` merges the chunk results and checks uniqueness across chunks.
GX is imported lazily: it takes seconds to import and the web process needs it only when a
data version is validated.
"""
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from marketplace.catalog import vocabulary as voc
from marketplace.cpr import valid_cpr_mask

EXAMPLE_ROWS = 5
EPOCH = np.datetime64("1970-01-01", "D")
ICD10_PATTERN = r"^D[A-Z][0-9]{2}[0-9A-Z]{0,4}$"
POSTCODE_PATTERN = r"^[0-9]{4}$"
CODE_SYSTEM_SETS = {
    "sex": list(voc.SEX_CODES),
    "municipality": sorted(voc.MUNICIPALITY_CODES),
}
CODE_SYSTEM_PATTERNS = {"icd10": ICD10_PATTERN, "postcode": POSTCODE_PATTERN}


@dataclass(frozen=True)
class Check:
    """One expectation: what it checks, on which (possibly derived) column."""

    column: str
    rule: str            # type | required | range | allowed | pattern | cpr | unique
    expectation: str     # the GX expectation class name
    target: str          # the column of the prepared frame GX looks at
    kwargs: dict
    label: str           # readable description (English; the page translates the rule)
    show_values: bool    # False for identifiers and sensitive columns: report rows only


@dataclass
class CheckResult:
    check: Check
    evaluated: int = 0
    unexpected: int = 0
    example_rows: list[int] = field(default_factory=list)
    example_values: list[Any] = field(default_factory=list)


def _derived(column: str, what: str) -> str:
    return f"__{what}__{column}"


def plan_checks(columns: list[dict]) -> list[Check]:
    """Return the expectations a column dictionary asks for, in a stable order."""
    checks: list[Check] = []
    for col in columns:
        checks += _column_checks(col)
    return checks


def _column_checks(col: dict) -> list[Check]:
    checks: list[Check] = []
    name, kind = col["name"], col["type"]
    show = col.get("role") == "attribute"
    text = kind in ("string", "category")

    def add(rule: str, expectation: str, target: str, label: str, **kwargs: Any) -> None:
        checks.append(Check(name, rule, expectation, target, kwargs, label, show))

    if not text:
        add("type", "ExpectColumnValuesToBeInSet", _derived(name, "ok"),
            f"values are of type {kind}", value_set=[1])
    if col.get("required"):
        add("required", "ExpectColumnValuesToNotBeNull",
            _derived(name, "present") if text else name, "no value is missing")
    if kind in ("integer", "number") and ("minimum" in col or "maximum" in col):
        add("range", "ExpectColumnValuesToBeBetween", name, _range_label(col),
            min_value=col.get("minimum"), max_value=col.get("maximum"))
    if kind == "date" and ("minimum" in col or "maximum" in col):
        add("range", "ExpectColumnValuesToBeBetween", _derived(name, "days"),
            _range_label(col), min_value=_days(col.get("minimum")),
            max_value=_days(col.get("maximum")))
    for rule, what, label in _text_rules(col):
        add(rule, "ExpectColumnValuesToBeInSet", _derived(name, what), label, value_set=[1])
    if col.get("unique"):
        checks.append(Check(name, "unique", "ExpectColumnValuesToBeUnique",
                            _derived(name, "hash"), {}, "values are unique", False))
    return checks


def _text_rules(col: dict) -> list[tuple[str, str, str]]:
    """The checks on text values: (rule, derived flag, label); each flag is 1 where it holds."""
    rules = []
    if col.get("allowed_values"):
        rules.append(("allowed", "allowed", "values are among the allowed values"))
    system = col.get("code_system")
    if system in CODE_SYSTEM_SETS:
        rules.append(("allowed", "code", f"values are {system} codes"))
    if system in CODE_SYSTEM_PATTERNS:
        rules.append(("pattern", "code", f"values are {system} codes"))
    if col.get("pattern"):
        rules.append(("pattern", "pattern", "values match the pattern"))
    if col.get("identifier_kind") == "cpr":
        rules.append(("cpr", "cpr", "values are valid CPR numbers"))
    return rules


def _range_label(col: dict) -> str:
    low, high = col.get("minimum"), col.get("maximum")
    if low is not None and high is not None:
        return f"values lie between {low} and {high}"
    return f"values are at least {low}" if low is not None else f"values are at most {high}"


def _days(value: str | None) -> int | None:
    return None if value is None else int((np.datetime64(value, "D") - EPOCH).astype(int))


def prepare_frame(raw: pd.DataFrame, columns: list[dict]) -> pd.DataFrame:
    """Return typed columns plus the derived numeric columns the checks look at.

    `raw` holds the columns as text (CSV) or typed (Parquet). Values that cannot be converted
    become missing in the typed column and 0 in its type flag, so a bad value is reported once
    as a type failure instead of failing every other check. Text rules (codes, patterns, CPR)
    become 0/1 flags computed in bulk, so GX only ever compares numbers.
    """
    out: dict[str, Any] = {}
    for col in columns:
        name, kind = col["name"], col["type"]
        values = raw[name]
        if kind not in ("integer", "number", "date"):
            out[name] = _text(values, col)
            present = out[name].notna().to_numpy()  # Arrow's null bitmap: no per-value test
            out |= _text_flags(out[name], col, present)
        else:
            present = values.notna().to_numpy()
        if kind in ("integer", "number"):
            if kind == "number" and not pd.api.types.is_numeric_dtype(values):
                values = values.str.replace(",", ".", regex=False)  # Danish decimal comma
            typed = pd.to_numeric(values, errors="coerce")
            if kind == "integer":
                typed = typed.where(typed.isna() | (typed == np.floor(typed)))
            out[name] = typed
            out[_derived(name, "ok")] = (~present | typed.notna().to_numpy()).astype(np.int8)
        elif kind == "date":
            typed = _to_dates(values)
            out[name] = typed
            days = (typed.to_numpy(dtype="datetime64[D]") - EPOCH).astype("float64")
            days[np.isnat(typed.to_numpy())] = np.nan
            out[_derived(name, "days")] = days
            out[_derived(name, "ok")] = (~present | typed.notna().to_numpy()).astype(np.int8)
        if col.get("unique"):
            hashes = pd.util.hash_array(out[name].astype("str").to_numpy(dtype=object))
            out[_derived(name, "hash")] = pd.array(hashes, dtype="UInt64")
            out[_derived(name, "hash")][~present] = pd.NA
    return pd.DataFrame(out, index=raw.index)


def _text(values: pd.Series, col: dict) -> pd.Series:
    """The values as text held in Arrow, missing where missing; a CPR number without its
    first hyphen or space.

    Arrow-backed, so that telling missing values, the CPR checks and storing the chunk need
    no pass over Python objects.
    """
    arrow = None
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        arrow = pa.array(values.array, type=pa.string())  # already text in Arrow
        if isinstance(arrow, pa.ChunkedArray):
            arrow = arrow.combine_chunks()
    elif values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in (
            "string", "empty"):
        # Already strings (a CSV, a Parquet text column): no need to convert each value.
        try:
            arrow = pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrow = None  # a missing value Arrow does not know as one: convert as below
    if arrow is None:
        text = values.astype("str").where(values.notna())
        arrow = pa.array(text, type=pa.string(), from_pandas=True)
    if col.get("identifier_kind") == "cpr":
        arrow = _without_first_separator(arrow)
    return pd.Series(pd.arrays.ArrowStringArray(arrow), index=values.index)


def _without_first_separator(text: pa.Array) -> pa.Array:
    """Drop each value's first hyphen or space, in Arrow rather than per value in Python."""
    # With only one of the two in the column a plain replacement does it, ten times faster
    # than the regex (RE2 and Python's re agree on this plain pattern).
    for separator, other in (("-", " "), (" ", "-")):
        if not pc.any(pc.match_substring(text, other)).as_py():
            return pc.replace_substring(text, separator, "", max_replacements=1)
    return pc.replace_substring_regex(text, r"[- ]", "", max_replacements=1)


def _text_flags(text: pd.Series, col: dict, present: np.ndarray) -> dict[str, np.ndarray]:
    name = col["name"]
    flags: dict[str, np.ndarray] = {}
    if col.get("required"):
        flags[_derived(name, "present")] = np.where(present, 1.0, np.nan)
    if col.get("allowed_values"):
        flags[_derived(name, "allowed")] = text.isin(col["allowed_values"]).to_numpy()
    system = col.get("code_system")
    if system in CODE_SYSTEM_SETS:
        flags[_derived(name, "code")] = text.isin(CODE_SYSTEM_SETS[system]).to_numpy()
    if system in CODE_SYSTEM_PATTERNS:
        flags[_derived(name, "code")] = _matches(text, CODE_SYSTEM_PATTERNS[system])
    if col.get("pattern"):
        flags[_derived(name, "pattern")] = _matches(text, col["pattern"])
    if col.get("identifier_kind") == "cpr":
        flags[_derived(name, "cpr")] = valid_cpr_mask(text)
    for key, value in flags.items():
        if value.dtype == bool:  # a missing value is the "required" check's business
            flags[key] = (value | ~present).astype(np.int8)
    return flags


def _matches(text: pd.Series, pattern: str) -> np.ndarray:
    # Python's re, not Arrow's RE2: the two read some patterns differently (\d, $, ...).
    # na=False: a missing value is the "required" check's business (and a column without any
    # value would leave pandas nothing to infer a type from).
    found = text.astype(object).str.contains(pattern, regex=True, na=False)
    return found.to_numpy(dtype=bool)




def _to_dates(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize(None) if values.dt.tz is not None else values
    return pd.to_datetime(values.astype("str").where(values.notna()), format="%Y-%m-%d",
                          errors="coerce")


_context = None


def _gx():
    """Import GX and build the one ephemeral in-memory context (offline, no progress bars)."""
    global _context
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    if _context is None:
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )
        config = DataContextConfig(
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            store_backend_defaults=InMemoryStoreBackendDefaults(),
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        asset = context.data_sources.add_pandas("uploads").add_dataframe_asset("version")
        asset.add_batch_definition_whole_dataframe("chunk")
        _context = context
    return gx, _context


def run_checks(frame: pd.DataFrame, checks: list[Check]) -> list[CheckResult]:
    """Validate a prepared frame with GX; example rows are the frame's index values."""
    if not checks:
        return []
    gx, context = _gx()
    import great_expectations.expectations as gxe
    suite = gx.ExpectationSuite(name="column-dictionary")
    for check in checks:
        suite.add_expectation(getattr(gxe, check.expectation)(column=check.target,
                                                               **check.kwargs))
    # GX fingerprints the whole frame it is given: hand it only the numeric columns it checks.
    needed = frame[list(dict.fromkeys(c.target for c in checks))]
    batch = (context.data_sources.get("uploads").get_asset("version")
             .get_batch_definition("chunk").get_batch(batch_parameters={"dataframe": needed}))
    # SUMMARY is the lightest format that still names failing rows (partial index list).
    outcome = batch.validate(suite, result_format={
        "result_format": "SUMMARY", "partial_unexpected_count": EXAMPLE_ROWS})
    results = []
    for check, result in zip(checks, outcome.results, strict=True):
        if result.exception_info and result.exception_info.get("raised_exception"):
            raise RuntimeError(result.exception_info.get("exception_message"))
        details = result.result or {}
        element_count = details.get("element_count", len(frame))
        missing = details.get("missing_count", 0) or 0
        results.append(CheckResult(
            check=check,
            evaluated=element_count - (missing if check.rule != "required" else 0),
            unexpected=details.get("unexpected_count", 0) or 0,
            example_rows=[int(i) for i in details.get("partial_unexpected_index_list") or []]))
    return results


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


class QualityAccumulator:
    """Validates a data version chunk by chunk and builds the quality report."""

    def __init__(self, columns: list[dict]) -> None:
        self.columns = columns
        all_checks = plan_checks(columns)
        self.chunk_checks = [c for c in all_checks if c.rule != "unique"]
        self.unique_checks = [c for c in all_checks if c.rule == "unique"]
        self.results = {id(c): CheckResult(c) for c in all_checks}
        self.rows = 0
        self.present = {c["name"]: 0 for c in columns}
        self.unfilled = set(self.present)  # columns without a single filled cell so far
        self.hashes: dict[str, list[np.ndarray]] = {c.target: [] for c in self.unique_checks}
        self.ages: list[np.ndarray] = []

    def add(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Validate one chunk (rows numbered on from earlier chunks); return it typed."""
        raw.index = pd.RangeIndex(self.rows + 1, self.rows + 1 + len(raw))
        frame = prepare_frame(raw, self.columns)
        for result in run_checks(frame, self.chunk_checks):
            if result.check.show_values and result.example_rows:
                values = raw.loc[result.example_rows, result.check.column]
                result.example_values = [_plain(v) for v in values]
            self._merge(result)
        for target in self.hashes:
            self.hashes[target].append(frame[target].to_numpy())
        for col in self.columns:
            self.present[col["name"]] += int(frame[col["name"]].notna().sum())
        self.unfilled = {name for name in self.unfilled if not _has_value(raw[name])}
        self.ages.append(self._ages(frame))
        self.rows += len(raw)
        return frame[[c["name"] for c in self.columns]]

    def _merge(self, result: CheckResult) -> None:
        total = self.results[id(result.check)]
        total.evaluated += result.evaluated
        total.unexpected += result.unexpected
        room = EXAMPLE_ROWS - len(total.example_rows)
        total.example_rows += result.example_rows[:room]
        total.example_values += result.example_values[:room]

    def _ages(self, frame: pd.DataFrame) -> np.ndarray:
        """Age in whole years at the event (or today) for the typical-age facts."""
        birth = next((c["name"] for c in self.columns if c.get("concept") == "birth_date"), None)
        if birth is not None and pd.api.types.is_datetime64_any_dtype(frame[birth]):
            event = next((c["name"] for c in self.columns if c.get("concept") == "event_date"
                          and c["type"] == "date"), None)
            at = frame[event] if event else pd.Timestamp.now()
            years = (at - frame[birth]).dt.days / 365.25
            return years.dropna().to_numpy()
        age = next((c["name"] for c in self.columns if c.get("concept") == "age"
                    and c["type"] in ("integer", "number")), None)
        return frame[age].dropna().to_numpy(dtype="float64") if age else np.empty(0)

    def empty_columns(self) -> list[str]:
        """The columns without a single filled cell, in dictionary order (a value that fails
        its type counts as filled: it is wrong, not missing)."""
        return [c["name"] for c in self.columns if c["name"] in self.unfilled]

    def finish(self) -> dict:
        """Run the cross-chunk checks and return the quality report (a JSON-ready dict)."""
        if self.unique_checks and self.rows:
            frame = pd.DataFrame({t: np.concatenate(h) for t, h in self.hashes.items()},
                                 index=pd.RangeIndex(1, self.rows + 1))
            for result in run_checks(frame, self.unique_checks):
                self._merge(result)
        expectations = [self._expectation(r) for r in self.results.values()]
        return {
            "valid": self.rows > 0 and all(e["success"] for e in expectations),
            "row_count": self.rows,
            "expectations": expectations,
            "completeness": {name: (count / self.rows if self.rows else 0.0)
                             for name, count in self.present.items()},
            "facts": self._facts(),
            "engine": "great_expectations",
        }

    @staticmethod
    def _expectation(result: CheckResult) -> dict:
        check = result.check
        entry = {
            "column": check.column, "rule": check.rule,
            "expectation": _snake(check.expectation), "description": check.label,
            "success": result.unexpected == 0, "evaluated": result.evaluated,
            "unexpected_count": result.unexpected,
            "unexpected_percent": round(100 * result.unexpected / result.evaluated, 3)
            if result.evaluated else 0.0,
            "example_rows": result.example_rows,
        }
        if result.example_values:
            entry["example_values"] = result.example_values
        return entry

    def _facts(self) -> dict:
        ages = np.concatenate(self.ages) if self.ages else np.empty(0)
        ages = ages[(ages >= 0) & (ages < 130)]
        return {
            "number_of_records": self.rows,
            "min_typical_age": int(np.floor(np.percentile(ages, 5))) if ages.size else None,
            "max_typical_age": int(np.floor(np.percentile(ages, 95))) if ages.size else None,
        }


def _has_value(values: pd.Series) -> bool:
    """Tell whether a raw column has a cell with something in it (blanks count as empty)."""
    present = values.dropna()
    if present.empty:
        return False
    if pd.api.types.is_numeric_dtype(present.dtype) or \
            pd.api.types.is_datetime64_any_dtype(present.dtype):
        return True
    # Usually the first filled cells already show it: look at them before the whole chunk.
    for part in (present.iloc[:100], present):
        if part.astype("str").str.strip().ne("").any():
            return True
    return False


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
