"""Automatic disclosure checks of one output file: pure functions over the file's bytes.

Every check yields a `Check(rule, outcome, message)`; `outcome` is pass, warn or fail. Nothing
leaves on checks alone: a passing output still waits for human output checkers, who see every
check with its message (in English for the API, in Danish on the pages).

The rules follow Danish and European practice: Sundhedsdatastyrelsen's minimum of persons per
table cell (the holder's threshold, default 5), the N-K dominance and p % rules for magnitude
tables (ACRO's defaults: the 2 largest contributions at most 90 % of a cell, the rest at least
10 % of the largest), no record-level output (a pseudonym column, one row per person), and no
CPR number in any spelling. Where the script used ACRO, its results file is read: ACRO counted
the records behind every cell itself, so its verdict per output, the researcher's exception
and comments are shown to the checker next to ours.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import pandas as pd

from marketplace.cpr import contains_cpr

Outcome = Literal["pass", "warn", "fail"]

TEXT_TYPES = frozenset({"csv", "tsv", "txt", "json", "html", "md", "svg", "tex", "log"})
TABLE_TYPES = frozenset({"csv", "tsv", "json"})
LOOK_TYPES = frozenset({"png", "jpg", "jpeg", "svg", "pdf", "gif", "webp"})
DEFAULT_TYPES = frozenset({"csv", "txt", "json", "png", "svg", "pdf", "html", "md"})
# A table larger than this is not parsed for cell checks (it is record-level by its size alone).
MAX_TABLE_BYTES = 20 * 1024 * 1024
ACRO_DEFAULT_THRESHOLD = 10

# Column names that say what a numeric column holds (lower case, Danish and English).
_COUNT_NAMES = re.compile(
    r"^(n|n_\w+|\w+_n|count|counts|\w+_count|count_\w+|antal|antal_\w+|freq|frequency|"
    r"persons|personer|patients|patienter|individuals|borgere|cases|tilfælde|number|"
    r"number_of_\w+|total_persons)$")
_LABEL_NAMES = re.compile(
    r"(^|_)(year|år|aar|month|måned|maaned|week|uge|day|dag|quarter|kvartal|age|alder|"
    r"code|kode|postcode|postnr|zip|region|kommune|municipality|band|group|gruppe|period|"
    r"periode|category|kategori|id|level|niveau|rank|index)($|_)")
_MAGNITUDE_NAMES = re.compile(
    r"(^|_)(sum|total|mean|median|avg|average|gennemsnit|amount|cost|beløb|kr|dkk|value|"
    r"værdi|los|length|days|dage|rate|pct|percent|procent|andel|ratio|std|sd|var|min|max|"
    r"minimum|maximum|weight|vægt|bmi|dose|largest|top|største|second|næststørste)($|_)")
_EXTREME_NAMES = re.compile(r"(^|_)(min|max|minimum|maximum)($|_)")
_LARGEST = re.compile(r"^(largest|top|max|største)_?1$|^(largest|max|største)$")
_SECOND = re.compile(r"^(largest|top|max|største)_?2$|^(second_largest|næststørste)$")
_TOTAL = re.compile(r"^(sum|total|i_alt)$")
_PSEUDONYM_VALUE = re.compile(r"^[a-p]{24}$")
_ID_VALUE = re.compile(r"^([0-9a-f]{16,64}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                       r"[0-9a-f]{12})$", re.IGNORECASE)


@dataclass(frozen=True)
class Check:
    rule: str
    outcome: Outcome
    message: str
    message_da: str = ""

    def to_json(self) -> dict[str, str]:
        body = asdict(self)
        body["message_da"] = self.message_da or self.message
        return body


@dataclass(frozen=True)
class OutputRules:
    """The data holder's rules (the strictest over the permit's datasets)."""

    cell_threshold: int = 5
    allowed_types: frozenset[str] = DEFAULT_TYPES
    max_bytes: int = 50 * 1024 * 1024
    cohort_size: int | None = None
    acro_results: dict[str, Any] | None = field(default=None)
    dominance_n: int = 2
    dominance_k: float = 0.90
    p_percent: float = 0.10


def _check(rule: str, outcome: Outcome, message: str, message_da: str) -> Check:
    return Check(rule, outcome, message, message_da)


def suffix_of(name: str) -> str:
    leaf = PurePosixPath(name).name
    return leaf.rsplit(".", 1)[-1].lower() if "." in leaf else ""


def check_output(path: Path, *, name: str, rules: OutputRules) -> list[Check]:
    """Run every automatic check on the output file at `path` (named `name` by the script)."""
    size = path.stat().st_size
    with open(path, "rb") as source:
        data = source.read(min(size, rules.max_bytes))
    return check_bytes(data, name=name, rules=rules, size=size)


def check_bytes(data: bytes, *, name: str, rules: OutputRules, size: int | None = None
                ) -> list[Check]:
    """The checks of `check_output` on bytes already read (`size` is the file's full size)."""
    size = len(data) if size is None else size
    suffix = suffix_of(name)
    checks = [_file_type(suffix, data, rules), _file_size(size, rules)]
    text = data.decode("utf-8", errors="replace") if suffix in TEXT_TYPES else \
        data.decode("latin-1")
    checks.append(_cpr(text))
    if suffix in TABLE_TYPES and size <= MAX_TABLE_BYTES:
        table = _read_table(text, suffix)
        if table is None:
            if suffix != "json":
                checks.append(_check(
                    "table", "warn", "the file could not be read as a table; check it by eye",
                    "filen kunne ikke læses som en tabel; se den igennem"))
        else:
            checks.extend(check_table(table, rules=rules,
                                      acro=acro_entry(rules.acro_results, name)))
    elif suffix in TABLE_TYPES:
        checks.append(_check(
            "record_level", "fail", f"a table of {size} bytes is record-level by its size",
            f"en tabel på {size} bytes er data på personniveau alene på grund af størrelsen"))
    if suffix in LOOK_TYPES:
        checks.append(_check(
            "human_review", "warn", "images and PDF files cannot be checked automatically: a "
            "checker must look at every number, label and point in them",
            "billeder og PDF-filer kan ikke kontrolleres automatisk: en kontrollant skal se på "
            "hvert tal, hver etiket og hvert punkt"))
    acro = acro_entry(rules.acro_results, name)
    if acro is not None:
        checks.append(acro_check(acro))
    return checks


def _file_type(suffix: str, data: bytes, rules: OutputRules) -> Check:
    shown = f".{suffix}" if suffix else "(no extension)"
    if suffix not in rules.allowed_types:
        return _check("file_type", "fail", f"{shown} is not an allowed output type",
                      f"{shown if suffix else '(ingen filtype)'} er ikke en tilladt filtype")
    if suffix in TEXT_TYPES and b"\x00" in data[:65536]:
        return _check("file_type", "fail", f"the {shown} file holds binary data",
                      f"{shown}-filen indeholder binære data")
    return _check("file_type", "pass", f"{shown} is an allowed output type",
                  f"{shown} er en tilladt filtype")


def _file_size(size: int, rules: OutputRules) -> Check:
    if size > rules.max_bytes:
        return _check("file_size", "fail", f"{size} bytes is above the limit of {rules.max_bytes}",
                      f"{size} bytes er over grænsen på {rules.max_bytes}")
    if size == 0:
        return _check("file_size", "warn", "the file is empty", "filen er tom")
    return _check("file_size", "pass", f"{size} bytes", f"{size} bytes")


def _cpr(text: str) -> Check:
    if contains_cpr(text):
        return _check("cpr", "fail", "the file holds a CPR number",
                      "filen indeholder et CPR-nummer")
    return _check("cpr", "pass", "no CPR number in any spelling",
                  "intet CPR-nummer, uanset skrivemåde")


@dataclass
class Table:
    """A parsed table: each column's text, and its numbers where every value is a number."""

    names: list[str]
    text: list[list[str]]
    numbers: list[np.ndarray | None]

    @property
    def rows(self) -> int:
        return len(self.text[0]) if self.text else 0

    @classmethod
    def from_rows(cls, header: list[str], rows: list[list[Any]], *,
                  decimal_comma: bool = False) -> Table:
        width = len(header)
        if any(len(row) != width for row in rows):
            rows = [[*row[:width], *[""] * (width - len(row))] for row in rows]
        # Transposed in C; cells keep their spaces (numbers parse with them, labels rarely
        # have them), so a large table costs no per-cell Python work.
        columns = [list(column) for column in zip(*rows, strict=True)] if rows else [
            [] for _ in range(width)]
        if any(not isinstance(cell, str) for column in columns for cell in column[:1]):
            columns = [["" if v is None else str(v) for v in column] for column in columns]
        return cls([str(h).strip() for h in header], columns,
                   [_numbers(c, decimal_comma=decimal_comma) for c in columns])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Table:
        return cls.from_rows([str(c) for c in frame.columns],
                             frame.astype(object).where(frame.notna(), None).values.tolist())


def _numbers(values: list[str], *, decimal_comma: bool) -> np.ndarray | None:
    """The column as floats (empty cells NaN), or None when any value is not a number."""
    if not values:
        return None
    cleaned = [v.replace(",", ".") for v in values] if decimal_comma else values
    try:
        numbers = np.asarray(cleaned, dtype=np.float64)
    except ValueError:
        blanks = [v.strip() or "nan" for v in cleaned]
        if all(v == "nan" for v in blanks):
            return None
        try:
            numbers = np.asarray(blanks, dtype=np.float64)
        except ValueError:
            return None
        spelled = np.isnan(numbers) & np.array([v != "nan" for v in blanks])
        if spelled.any():
            return None
    if np.isinf(numbers).any():
        return None
    return numbers


def _read_table(text: str, suffix: str) -> Table | None:
    if suffix == "json":
        return _json_table(text)
    sample = text[:4096]
    sep = "\t" if suffix == "tsv" else (";" if sample.count(";") > sample.count(",") else ",")
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    except csv.Error:
        return None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 2 or not rows[0]:
        return None
    return Table.from_rows(rows[0], rows[1:], decimal_comma=sep == ";")


def _json_table(text: str) -> Table | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    try:
        if isinstance(value, dict) and isinstance(value.get("columns"), list) and isinstance(
                value.get("data"), list):
            return Table.from_frame(pd.DataFrame(value["data"], columns=value["columns"]))
        if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
            return Table.from_frame(pd.DataFrame.from_records(value))
        if isinstance(value, dict) and value and all(isinstance(v, list)
                                                     for v in value.values()):
            return Table.from_frame(pd.DataFrame(value))
    except (ValueError, TypeError):
        return None
    return None


# --- tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableShape:
    """What each column of a table holds (column positions)."""

    labels: list[int]
    counts: list[int]
    magnitudes: list[int]


def _name(column: object) -> str:
    return str(column).strip().lower().replace(" ", "_").replace("-", "_")


def classify_columns(table: Table) -> TableShape:
    """Tell label, count and magnitude columns apart (by name first, then by their values)."""
    labels: list[int] = []
    counts: list[int] = []
    magnitudes: list[int] = []
    for index, column in enumerate(table.names):
        numbers = table.numbers[index]
        name = _name(column)
        if numbers is None:
            labels.append(index)
        elif _COUNT_NAMES.match(name):
            counts.append(index)
        elif _MAGNITUDE_NAMES.search(name):
            magnitudes.append(index)
        elif _LABEL_NAMES.search(name):
            labels.append(index)
        else:
            finite = numbers[np.isfinite(numbers)]
            whole = bool(np.all(finite == np.round(finite)) and np.all(finite >= 0))
            (counts if whole else magnitudes).append(index)
    return TableShape(labels, counts, magnitudes)


def check_table(table: Table | pd.DataFrame, *, rules: OutputRules,
                acro: dict[str, Any] | None = None) -> list[Check]:
    """The record-level, cell-threshold and dominance checks of one table.

    Where ACRO made the table (and its threshold is at least the holder's), ACRO's own count of
    the records behind each cell decides the threshold and dominance checks: it saw the persons,
    where the file shows only the published numbers.
    """
    if isinstance(table, pd.DataFrame):
        table = Table.from_frame(table)
    shape = classify_columns(table)
    checks = [_record_level(table, shape, rules)]
    if acro is not None and _acro_threshold(rules) >= rules.cell_threshold:
        checks.extend(_acro_cells(acro, rules))
        return checks
    checks.append(_cell_threshold(table, shape, rules))
    dominance = _dominance(table, shape, rules)
    if dominance is not None:
        checks.append(dominance)
    extremes = [table.names[c] for c in shape.magnitudes
                if _EXTREME_NAMES.search(_name(table.names[c]))]
    if extremes:
        names = ", ".join(extremes)
        checks.append(_check(
            "extremes", "warn",
            f"minimum and maximum are one person's value ({names}): release them only for "
            "large groups or as rounded ranges",
            f"minimum og maksimum er én persons værdi ({names}): frigiv dem kun for store "
            "grupper eller som afrundede intervaller"))
    return checks


def _share(values: list[str], pattern: re.Pattern[str]) -> float:
    sample = [v for v in values[:1000] if v]
    return sum(1 for v in sample if pattern.fullmatch(v)) / len(sample) if sample else 0.0


def _record_level(table: Table, shape: TableShape, rules: OutputRules) -> Check:
    rows = table.rows
    named = [c for c in table.names if "pseudonym" in _name(c)]
    if named:
        return _check("record_level", "fail",
                      f"a pseudonym column ({', '.join(named)}): record-level data",
                      f"en pseudonymkolonne ({', '.join(named)}): data på personniveau")
    for index in shape.labels:
        values = table.text[index]
        if _share(values, _PSEUDONYM_VALUE) >= 0.5 or _share(values, _ID_VALUE) >= 0.5:
            column = table.names[index]
            return _check("record_level", "fail",
                          f"column {column} holds pseudonym-like identifiers: record-level data",
                          f"kolonnen {column} indeholder pseudonym-lignende id'er: data på "
                          "personniveau")
    cohort = rules.cohort_size
    if cohort and rows >= max(2 * rules.cell_threshold, 0.5 * cohort):
        return _check("record_level", "fail",
                      f"{rows} rows for a cohort of {cohort} persons: one row per person?",
                      f"{rows} rækker for en kohorte på {cohort} personer: én række pr. person?")
    if not shape.counts and rows >= 100 and any(
            len(set(table.text[c])) == rows for c in shape.labels):
        return _check("record_level", "warn",
                      f"{rows} rows without counts and a column with a distinct value in every "
                      "row: it may be one row per person",
                      f"{rows} rækker uden optællinger og en kolonne med en ny værdi i hver "
                      "række: det kan være én række pr. person")
    return _check("record_level", "pass", "no sign of record-level data",
                  "intet tegn på data på personniveau")


def small_cells(values: np.ndarray, threshold: int) -> np.ndarray:
    """Mask of the cells with at least one and fewer than `threshold` persons (vectorised)."""
    return (values > 0) & (values < threshold)


def _cell_threshold(table: Table, shape: TableShape, rules: OutputRules) -> Check:
    threshold = rules.cell_threshold
    if not shape.counts:
        if shape.magnitudes:
            return _check("cell_threshold", "warn",
                          "magnitudes without a count of persons per cell: the checker cannot "
                          f"see that every cell has at least {threshold} persons",
                          "størrelser uden antal personer pr. celle: kontrollanten kan ikke se, "
                          f"at hver celle har mindst {threshold} personer")
        return _check("cell_threshold", "pass", "no counts in the table",
                      "ingen optællinger i tabellen")
    block = np.column_stack([n for c in shape.counts if (n := table.numbers[c]) is not None])
    small = small_cells(np.nan_to_num(block, nan=0.0), threshold)
    found = int(small.sum())
    if found:
        rows, cols = np.nonzero(small)
        names = [table.names[c] for c in shape.counts]
        pairs = list(zip(rows[:5].tolist(), cols[:5].tolist(), strict=True))
        where = ", ".join(f"{names[c]} row {r + 1}" for r, c in pairs)
        where_da = ", ".join(f"{names[c]} række {r + 1}" for r, c in pairs)
        more = " …" if found > 5 else ""
        return _check("cell_threshold", "fail",
                      f"{found} cell(s) with fewer than {threshold} persons ({where}{more})",
                      f"{found} celle(r) med færre end {threshold} personer ({where_da}{more})")
    cells = int(np.isfinite(block).sum())
    return _check("cell_threshold", "pass",
                  f"all {cells} counted cells have 0 or at least {threshold} persons",
                  f"alle {cells} optalte celler har 0 eller mindst {threshold} personer")


def dominated(total: np.ndarray, largest: np.ndarray, second: np.ndarray, *, k: float,
              p: float) -> np.ndarray:
    """Mask of cells failing the N-K rule (2 largest > k of the total) or the p % rule.

    p % rule: the rest after the two largest must be at least p of the largest contribution,
    or the second largest contributor can estimate the largest one too closely.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        nk = (largest + second) > k * total
        pp = (total - largest - second) < p * largest
    return (nk | pp) & (total > 0)


def _dominance(table: Table, shape: TableShape, rules: OutputRules) -> Check | None:
    names = {_name(c): i for i, c in enumerate(table.names)}
    largest = next((i for n, i in names.items() if _LARGEST.match(n)), None)
    second = next((i for n, i in names.items() if _SECOND.match(n)), None)
    total = next((i for n, i in names.items() if _TOTAL.match(n)), None)
    if largest is not None and total is not None:
        def numbers(index: int) -> np.ndarray:
            values = table.numbers[index]
            if values is None:
                return np.zeros(table.rows)
            return np.abs(np.nan_to_num(values, nan=0.0))

        top, rest = numbers(largest), numbers(second) if second is not None else 0.0
        bad = dominated(numbers(total), top, np.broadcast_to(rest, top.shape),
                        k=rules.dominance_k, p=rules.p_percent)
        found = int(bad.sum())
        percent_k, percent_p = round(rules.dominance_k * 100), round(rules.p_percent * 100)
        if found:
            rows = ", ".join(str(r + 1) for r in np.nonzero(bad)[0][:5])
            return _check("dominance", "fail",
                          f"{found} cell(s) dominated by their largest contributors (N-K rule "
                          f"{rules.dominance_n} > {percent_k} % or p % rule {percent_p} %; "
                          f"rows {rows})",
                          f"{found} celle(r) domineres af de største bidrag (N-K-regel "
                          f"{rules.dominance_n} > {percent_k} % eller p %-regel {percent_p} %; "
                          f"række {rows})")
        return _check("dominance", "pass",
                      f"no cell is dominated (N-K {rules.dominance_n} > {percent_k} %, "
                      f"p % {percent_p} %)",
                      f"ingen celle domineres (N-K {rules.dominance_n} > {percent_k} %, "
                      f"p % {percent_p} %)")
    sums = [c for c in shape.magnitudes if re.search(r"(^|_)(sum|total|amount|beløb|cost)($|_)",
                                                      _name(table.names[c]))]
    if sums:
        return _check("dominance", "warn",
                      "a magnitude table without the largest contributions per cell: dominance "
                      "cannot be checked automatically (add largest_1 and largest_2 columns, or "
                      "use acro)",
                      "en tabel med størrelser uden de største bidrag pr. celle: dominans kan "
                      "ikke kontrolleres automatisk (tilføj kolonnerne largest_1 og largest_2, "
                      "eller brug acro)")
    return None


# --- ACRO ----------------------------------------------------------------------------------------


def acro_entry(results: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """ACRO's record of the output file `name`, from its results.json; None when it has none.

    ACRO names each output (output_0, ...) and lists the files it wrote for it; a file is
    matched on its name, with or without a folder.
    """
    if not isinstance(results, dict) or not isinstance(results.get("results"), dict):
        return None
    leaf = PurePosixPath(name).name
    for uid, entry in results["results"].items():
        if not isinstance(entry, dict):
            continue
        files = entry.get("files") or []
        names = {PurePosixPath(str(f.get("name", ""))).name for f in files if isinstance(f, dict)}
        if leaf in names or PurePosixPath(leaf).stem == str(uid):
            return {"uid": str(uid), **entry}
    return None


def _acro_threshold(rules: OutputRules) -> int:
    config = (rules.acro_results or {}).get("config") or {}
    value = config.get("safe_threshold", ACRO_DEFAULT_THRESHOLD)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _acro_cells(entry: dict[str, Any], rules: OutputRules) -> list[Check]:
    flagged = acro_summary(entry)["flagged"]
    threshold = _acro_threshold(rules)
    small = flagged.get("MinimumThresholdCheck", 0)
    checks = [
        _check("cell_threshold", "fail",
               f"ACRO counted {small} cell(s) with fewer than {threshold} persons",
               f"ACRO talte {small} celle(r) med færre end {threshold} personer")
        if small else
        _check("cell_threshold", "pass",
               f"ACRO counted the persons behind every cell: none under {threshold}",
               f"ACRO har talt personerne bag hver celle: ingen under {threshold}")]
    dominant = flagged.get("NKCheck", 0) + flagged.get("PPercentCheck", 0)
    if dominant:
        checks.append(_check("dominance", "fail",
                             f"ACRO found {dominant} dominated cell(s) (N-K or p % rule)",
                             f"ACRO fandt {dominant} dominerede celle(r) (N-K- eller p %-regel)"))
    return checks


def acro_summary(entry: dict[str, Any]) -> dict[str, Any]:
    """What a checker needs from ACRO's record: status, the cells it flagged, the researcher's
    exception and comments, and the command that made the output."""
    flagged: dict[str, int] = {}
    for file in entry.get("files") or []:
        summary = ((file or {}).get("sdc") or {}).get("summary") or {}
        for check, count in summary.items():
            if isinstance(count, int) and count > 0:
                flagged[str(check)] = flagged.get(str(check), 0) + count
    comments = entry.get("comments") or []
    return {
        "uid": str(entry.get("uid", "")),
        "status": str(entry.get("status", "unknown")),
        "type": str(entry.get("type", "")),
        "flagged": flagged,
        "exception": str(entry.get("exception") or ""),
        "comments": [str(c) for c in comments] if isinstance(comments, list) else [],
        "command": str(entry.get("command") or ""),
        "summary": str(entry.get("summary") or ""),
    }


def acro_check(entry: dict[str, Any]) -> Check:
    """ACRO's verdict as one check: pass, or a failure the researcher asked an exception for
    (a checker must judge it), or a plain failure."""
    info = acro_summary(entry)
    flagged = ", ".join(f"{name} {count}" for name, count in sorted(info["flagged"].items()))
    detail = f" ({flagged})" if flagged else ""
    status = info["status"]
    if status == "pass":
        return _check("acro", "pass", f"ACRO {info['uid']}: pass{detail}",
                      f"ACRO {info['uid']}: bestået{detail}")
    if info["exception"]:
        return _check("acro", "warn",
                      f"ACRO {info['uid']}: {status}{detail}; the researcher asks for an "
                      f"exception: {info['exception']}",
                      f"ACRO {info['uid']}: {status}{detail}; forskeren beder om en undtagelse: "
                      f"{info['exception']}")
    outcome: Outcome = "warn" if status == "review" else "fail"
    return _check("acro", outcome, f"ACRO {info['uid']}: {status}{detail}",
                  f"ACRO {info['uid']}: {status}{detail}")


def read_acro_results(output_dir: Path) -> dict[str, Any] | None:
    """ACRO's results.json in a job's output folder (at its top or one folder down)."""
    candidates: Iterable[Path] = [output_dir / "results.json",
                                  *sorted(output_dir.glob("*/results.json"))]
    for candidate in candidates:
        if candidate.is_file() and candidate.stat().st_size <= 20 * 1024 * 1024:
            try:
                value = json.loads(candidate.read_text(encoding="utf-8"))
            except (ValueError, UnicodeError, RecursionError):
                continue
            if isinstance(value, dict) and isinstance(value.get("results"), dict):
                config = candidate.parent / "config.json"
                if config.is_file() and config.stat().st_size <= 1024 * 1024:
                    with contextlib.suppress(ValueError, UnicodeError, RecursionError):
                        value["config"] = json.loads(config.read_text(encoding="utf-8"))
                return value
    return None


def summary_outcome(checks: Iterable[dict[str, Any] | Check]) -> Outcome:
    """The worst outcome among checks."""
    outcomes = {c.outcome if isinstance(c, Check) else c.get("outcome") for c in checks}
    if "fail" in outcomes:
        return "fail"
    return "warn" if "warn" in outcomes else "pass"
