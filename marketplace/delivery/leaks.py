"""The last line of defence: nothing that looks like a CPR number or a direct identifier leaves,
and no output cell holds the input's own names, addresses, e-mails, phone numbers or a person's
own birth date.

The scan works on distinct values (a categorical column is scanned through its dictionary), so it
costs little even on large extracts. Any finding fails the extract; the caller keeps no output.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from marketplace.cpr import contains_cpr, scrub_cpr, valid_cpr_mask

CPR_PLACEHOLDER = "[CPR]"


class LeakFound(Exception):
    """The extract would disclose an identifier; it must not be released."""

    def __init__(self, findings: list[str]):
        super().__init__("; ".join(findings))
        self.findings = findings


@dataclass(frozen=True)
class LeakScan:
    columns_scanned: int
    values_scanned: int


def redact_cprs(values: pd.Series) -> pd.Series:
    """Replace every CPR number inside free text, in any spelling, by a placeholder (on distinct
    values)."""
    codes, uniques = pd.factorize(values, sort=False)
    text = pd.Index(uniques).astype(str)
    redacted = pd.Index([scrub_cpr(value, CPR_PLACEHOLDER) for value in text], dtype=object)
    new_codes, new_uniques = pd.factorize(redacted, sort=False)
    remapped = np.where(codes >= 0, new_codes[np.maximum(codes, 0)], -1)
    return pd.Series(
        pd.Categorical.from_codes(remapped, categories=pd.Index(new_uniques), validate=False),
        index=values.index,
        name=values.name,
    )


def _distinct(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype):
        used = np.unique(series.cat.codes.to_numpy())
        return pd.Series(series.cat.categories[used[used >= 0]])
    return pd.Series(pd.unique(series.dropna()))


def _cpr_like(distinct: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(distinct.dtype) or pd.api.types.is_float_dtype(distinct.dtype):
        numbers = pd.to_numeric(distinct, errors="coerce").dropna()
        candidates = numbers[(numbers >= 1e8) & (numbers < 1e10) & (numbers == numbers.round())]
        if candidates.empty:
            return False
        return bool(valid_cpr_mask(candidates.astype(np.int64).map("{:010d}".format)).any())
    text = pa.array(pd.Index(distinct).astype("str").array, type=pa.string())
    # Cheap test first: only values with ten digits (in any script) can hold a CPR number.
    enough = pc.greater_equal(pc.count_substring_regex(text, r"\p{Nd}"), 10)
    candidates = distinct[enough.to_numpy(zero_copy_only=False)]
    return any(contains_cpr(value) for value in candidates.astype(str))


def scan(frame: pd.DataFrame, *, forbidden_columns: Iterable[str]) -> LeakScan:
    """Raise LeakFound if a forbidden column survived or any value looks like a CPR number."""
    findings = [f"direct identifier column {name!r} present" for name in forbidden_columns
                if name in frame.columns]
    values = 0
    for name in frame.columns:
        distinct = _distinct(frame[name])
        values += len(distinct)
        if pd.api.types.is_datetime64_any_dtype(distinct.dtype) or distinct.dtype == bool:
            continue
        if _cpr_like(distinct):
            findings.append(f"column {name!r} holds a value that looks like a CPR number")
    if findings:
        raise LeakFound(findings)
    return LeakScan(columns_scanned=len(frame.columns), values_scanned=values)


# --- the input's own identifiers ------------------------------------------------------------

# Kinds of direct identifier an output is compared with (CPR numbers have their own scan; free
# text is output, redacted).
OWN_IDENTIFIER_KINDS = ("name", "address", "email", "phone")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063"
                                    "\u2064\ufeff"))
_WORD = re.compile(r"\w+")
_PHONE_RUN = re.compile(r"\+?\d(?:[\s\-./()]{0,2}\d){7,}")
# Shorter text would match ordinary words ("Ib", "Bo"); a name that short identifies no one.
_MIN_IDENTIFIER_CHARS = 4
_MONTHS = {name: number for number, names in enumerate((
    ("januar", "january", "jan"), ("februar", "february", "feb"), ("marts", "march", "mar"),
    ("april", "apr"), ("maj", "may"), ("juni", "june", "jun"), ("juli", "july", "jul"),
    ("august", "aug"), ("september", "sep", "sept"), ("oktober", "october", "okt", "oct"),
    ("november", "nov"), ("december", "dec")), start=1) for name in names}
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"
                           r"|(?<!\d)(\d{1,2})[-./ ](\d{1,2})[-./ ](\d{4}|\d{2})(?!\d)")
_WRITTEN_DATE = re.compile(r"(?<!\d)(\d{1,2})\.?\s+([a-zæøå]+)\.?\s+(\d{4})(?!\d)")


def normalise_text(value: str) -> str:
    """Text as compared: compatibility forms (full-width letters and digits, odd spaces) made
    plain, invisible characters removed, case folded, whitespace collapsed."""
    plain = unicodedata.normalize("NFKC", value).translate(_INVISIBLE).casefold()
    return " ".join(plain.split())


def phone_digits(value: str) -> str | None:
    """A phone number as its last eight digits (Danish numbers without +45), or None."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value).translate(_INVISIBLE))
    return digits[-8:] if len(digits) >= 8 else None


@dataclass(frozen=True)
class OwnIdentifiers:
    """The direct identifiers of the persons in one chunk of input, normalised: what no output
    cell may contain, however it is spelled."""

    words: dict[str, tuple[tuple[str, ...], ...]]  # first word -> identifiers as word tuples
    whole: frozenset[str]  # identifiers of one word: found only as a whole cell
    phones: frozenset[str]

    @property
    def empty(self) -> bool:
        return not (self.words or self.whole or self.phones)


def own_identifiers(frame: pd.DataFrame, kinds: dict[str, str]) -> OwnIdentifiers:
    """Collect the identifiers of `frame`'s columns, named with their kind (name, address,
    email, phone)."""
    words: dict[str, set[tuple[str, ...]]] = {}
    whole: set[str] = set()
    phones: set[str] = set()
    for name, kind in kinds.items():
        if name not in frame:
            continue
        for value in _distinct(frame[name]).astype(str):
            if kind == "phone":
                digits = phone_digits(value)
                if digits:
                    phones.add(digits)
                continue
            forms = [value]
            if kind == "address" and "," in value:
                forms.append(value.split(",", 1)[0])  # the street and number alone
            for form in forms:
                text = normalise_text(form)
                if len(text) < _MIN_IDENTIFIER_CHARS:
                    continue
                tokens = tuple(_WORD.findall(text))
                if len(tokens) > 1:
                    words.setdefault(tokens[0], set()).add(tokens)
                elif tokens:
                    whole.add(tokens[0])
    return OwnIdentifiers({first: tuple(found) for first, found in words.items()},
                          frozenset(whole), frozenset(phones))


def _holds_identifier(value: str, own: OwnIdentifiers) -> bool:
    text = normalise_text(value)
    tokens = _WORD.findall(text)
    if len(tokens) == 1 and tokens[0] in own.whole:
        return True
    for start, token in enumerate(tokens):
        for candidate in own.words.get(token, ()):
            if tuple(tokens[start:start + len(candidate)]) == candidate:
                return True
    if own.phones:
        for run in _PHONE_RUN.findall(unicodedata.normalize("NFKC", value)
                                      .translate(_INVISIBLE)):
            digits = re.sub(r"\D", "", run)
            if any(digits[i:i + 8] in own.phones for i in range(len(digits) - 7)):
                return True
    return False


def _year(text: str) -> int:
    year = int(text)
    return year if len(text) == 4 else year + (1900 if year > 30 else 2000)


def dates_in_text(value: str) -> set[date]:
    """Every calendar date written in the text: 1985-03-07, 7.3.1985, 07/03/85, 7. marts 1985."""
    text = normalise_text(value)
    found: set[date] = set()
    for match in _NUMERIC_DATE.finditer(text):
        if match.group(1):
            parts = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
        else:
            parts = (_year(match.group(6)), int(match.group(5)), int(match.group(4)))
        found.update(_date(*parts))
    for match in _WRITTEN_DATE.finditer(text):
        month = _MONTHS.get(match.group(2))
        if month:
            found.update(_date(int(match.group(3)), month, int(match.group(1))))
    return found


def _date(year: int, month: int, day: int) -> list[date]:
    try:
        return [date(year, month, day)]
    except ValueError:
        return []


def _text_like(series: pd.Series) -> bool:
    return (isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(
        series.dtype) or pd.api.types.is_string_dtype(series.dtype))


def scan_own_identifiers(frame: pd.DataFrame, own: OwnIdentifiers, *,
                         birth_dates: pd.Series | None = None,
                         skip: Iterable[str] = ()) -> None:
    """Raise LeakFound when an output cell holds a name, address, e-mail or phone number of the
    input, or when a row shows its own person's birth date (written in text, or as a date
    column that is not the birth date's own, generalised column).

    `birth_dates` are the rows' birth dates, aligned with `frame`; columns in `skip` are left
    out (the pseudonym; the birth date column, whose detail the anonymity assessment decides).
    """
    findings = []
    skipped = set(skip)
    for name in frame.columns:
        if name in skipped:
            continue
        series = frame[name].reset_index(drop=True)
        if birth_dates is not None and pd.api.types.is_datetime64_any_dtype(series.dtype):
            same = (series.dt.normalize() == _as_dates(birth_dates)).fillna(False)
            if bool(same.any()):
                findings.append(f"column {name!r} shows a person's own birth date")
            continue
        if not _text_like(series):
            continue
        codes, uniques = pd.factorize(series, sort=False)
        text = pd.Index(uniques).astype(str)
        if not own.empty and any(_holds_identifier(value, own) for value in text):
            findings.append(f"column {name!r} holds a name, address, e-mail or phone number "
                            "of the input")
            continue
        if birth_dates is not None:
            written = [dates_in_text(value) for value in text]
            if any(written) and _own_birth_date_written(codes, written,
                                                         _as_dates(birth_dates)):
                findings.append(f"column {name!r} writes a person's own birth date")
    if findings:
        raise LeakFound(findings)


def _as_dates(values: pd.Series) -> pd.Series:
    """The values as midnight timestamps, by position (converted only when they are text)."""
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = pd.to_datetime(values, errors="coerce")
    return values.dt.normalize().reset_index(drop=True)


def _own_birth_date_written(codes: np.ndarray, written: list[set[date]], born: pd.Series
                            ) -> bool:
    with_dates = [i for i, dates in enumerate(written) if dates]
    if not with_dates:
        return False
    rows = np.flatnonzero(np.isin(codes, with_dates))
    for row in rows:
        birth = born.iloc[row]
        if pd.notna(birth) and birth.date() in written[codes[row]]:
            return True
    return False
