"""Danish CPR numbers: validation, birth date and sex, and finding them in text.

Rules from the CPR office: DDMMYY-SSSS, the seventh digit with YY gives the century, the date must
exist in that century, the last digit is odd for men. The modulus-11 check is deliberately NOT
applied: numbers issued since 1 October 2007 may fail it.
"""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from pydantic_core import PydanticCustomError

_CPR_FORM = re.compile(r"^\s*(\d{6})[-\s]?(\d{4})\s*$")

# Ten digits, optionally split after the sixth by a hyphen or space, not inside a longer digit run.
CPR_IN_TEXT = re.compile(r"(?<![\d])(\d{6})[-\s]?(\d{4})(?![\d])")


def _century(seventh: int, yy: int) -> int | None:
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if yy <= 36 else 1900
    # 5, 6, 7, 8
    if yy <= 36:
        return 2000
    if yy >= 58:
        return 1800
    return None


def normalise_cpr(text: str) -> str:
    """Return the CPR number as ten digits; raise ValueError if it is not a real CPR number."""
    if not isinstance(text, str):
        raise ValueError("CPR number must be text")
    match = _CPR_FORM.match(text)
    if not match:
        raise ValueError("CPR number must have the form DDMMYY-SSSS")
    digits = match.group(1) + match.group(2)
    birth_date(digits)
    return digits


def birth_date(cpr: str) -> date:
    """Return the birth date encoded in a ten-digit CPR number; raise ValueError if impossible."""
    day, month, yy, seventh = int(cpr[0:2]), int(cpr[2:4]), int(cpr[4:6]), int(cpr[6])
    century = _century(seventh, yy)
    if century is None:
        raise ValueError("CPR number has an impossible century digit for its year")
    try:
        return date(century + yy, month, day)
    except ValueError as exc:
        raise ValueError("CPR number does not hold a real date") from exc


def is_valid_cpr(text: object) -> bool:
    """Tell whether `text` is a valid CPR number."""
    try:
        normalise_cpr(text)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def contains_cpr(text: str) -> bool:
    """Tell whether free text holds a valid CPR number, however it is spelled (see find_cprs)."""
    return next(_cpr_spans(text), None) is not None


def sex_of(cpr: str) -> str:
    """Return "male" or "female" from the last digit of a normalised CPR number."""
    return "male" if int(cpr[-1]) % 2 else "female"


def mask_cpr(cpr: str) -> str:
    """Show only the birth-date part, as on the citizen's own page."""
    return f"{cpr[:6]}-XXXX"


def age_on(cpr: str, on: date) -> int:
    """Return the age in whole years on `on` of the person with this CPR number."""
    born = birth_date(cpr)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def valid_cpr_mask(values: pd.Series) -> np.ndarray:
    """Vectorised validity check of a column of CPR numbers (NaN counts as invalid).

    The same rule as `normalise_cpr`, computed on a matrix of digits rather than per-value regex
    groups, so a million values take a fraction of a second.
    """
    text = values.astype("string[pyarrow]").str.strip()
    split = (text.str.len() == 11) & text.str.slice(6, 7).isin(["-", " "])
    if split.any():
        text = text.where(~split, text.str.slice(0, 6) + text.str.slice(7))
    shaped = text.str.fullmatch(r"[0-9]{10}").fillna(False).to_numpy(dtype=bool)
    result = np.zeros(len(values), dtype=bool)
    if not shaped.any():
        return result
    joined = "".join(text[shaped].tolist()).encode("ascii")
    d = (np.frombuffer(joined, dtype=np.uint8).reshape(-1, 10) - 48).astype(np.int64)
    day, month = d[:, 0] * 10 + d[:, 1], d[:, 2] * 10 + d[:, 3]
    yy, seventh = d[:, 4] * 10 + d[:, 5], d[:, 6]
    century = np.select(
        [seventh <= 3, np.isin(seventh, (4, 9)) & (yy <= 36), np.isin(seventh, (4, 9)),
         yy <= 36, yy >= 58],
        [1900, 2000, 1900, 2000, 1800],
        default=0,
    )
    year = century + yy
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    good_month = (month >= 1) & (month <= 12)
    last_day = _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    result[shaped] = (century > 0) & good_month & (day >= 1) & (day <= last_day)
    return result


# --- finding CPR numbers in text, however they are written -----------------------------------
#
# People and programs write a CPR number in many ways: 0101901234, 010190-1234, 010190 1234,
# 01.01.90-1234, 01/01/90 1234, 01-01-1990-1234, with an en dash, a no-break space, full-width or
# Arabic-Indic digits, or a zero-width character slipped in. The text is first translated one
# character for one character (so positions stay those of the original text): every decimal
# digit becomes its ASCII digit, every dash a hyphen, every space a space, and characters that
# show nothing become NUL, which may sit anywhere inside a number. A number is then a chain of
# digit groups joined by single separators, and a CPR number is a run of groups with one of the
# groupings below whose digits are a real CPR number (date and century rule).
#
# What is deliberately NOT taken for a CPR number, to spare ordinary numbers: thousands grouping
# (2.101.901.234 kr), phone numbers (+45 20 10 19 01, and runs of two-digit groups longer than one
# CPR number), twelve digits without separators, and any part of a longer digit run.

_ZERO_WIDTH = "\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_OTHER_SEPARATORS = {"\uff0e": ".", "\u2024": ".", "\uff0f": "/", "\u2044": "/", "\u2215": "/",
                     "\uff1a": ":"}

# Groupings of ten digits (DDMMYY SSSS) and of twelve (DD MM YYYY SSSS) that are CPR numbers.
_GROUPINGS_10 = {(10,), (6, 4), (2, 2, 2, 4), (4, 2, 4), (6, 2, 2), (2, 2, 6), (2, 2, 2, 2, 2)}
_GROUPINGS_12 = {(8, 4), (2, 2, 4, 4), (2, 2, 4, 2, 2)}
# Groupings also common for other numbers: a CPR number only when they are the whole chain.
_WHOLE_CHAIN_ONLY = {(2, 2, 2, 2, 2), (2, 2, 4, 2, 2)}

_DIGITS = r"[0-9]+(?:\x00+[0-9]+)*"
_SEPARATOR = r"\x00*(?: ?[-./:] ?| )\x00*"
# The lookahead rejects, at C speed, every number too short to hold a CPR number.
# It starts with a digit so that the engine skips other characters at C speed; the lookbehind
# keeps it from starting inside a longer number.
_CHAIN = re.compile(rf"[0-9](?<![0-9\x00][0-9])(?=[0-9\x00 ./:-]{{9}})[0-9]*(?:\x00+[0-9]+)*"
                    rf"(?:{_SEPARATOR}{_DIGITS})*")
_GROUP = re.compile(_DIGITS)
_BETWEEN_GROUPS = re.compile(r"\x00*[^0-9\x00]+\x00*")


@lru_cache(maxsize=1)
def _translation() -> dict[int, int]:
    table: dict[int, int] = {}
    for code in range(128, sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Nd":
            table[code] = 48 + unicodedata.decimal(char)
        elif category == "Zs":
            table[code] = 32
    for char in _ZERO_WIDTH:
        table[ord(char)] = 0
    for char in _DASHES:
        table[ord(char)] = ord("-")
    for char, plain in _OTHER_SEPARATORS.items():
        table[ord(char)] = ord(plain)
    table[0] = 0x1A  # a NUL in the text itself must not glue digits together
    table[ord("\t")] = 0x1A
    return table


def warm() -> None:
    """Build the spelling table now (a tenth of a second), not in the first request that
    meets a non-ASCII text."""
    _translation()


def _plain(text: str) -> str:
    """The text with every digit, dash and space spelled in ASCII, same length as the original."""
    if text.isascii():
        return text.replace("\x00", "\x1a") if "\x00" in text else text
    return text.translate(_translation())


def _is_cpr_digits(digits: str) -> bool:
    try:
        birth_date(digits)
    except ValueError:
        return False
    return True


def _candidate(digits: str, lengths: tuple[int, ...]) -> str | None:
    if lengths in _GROUPINGS_10 and _is_cpr_digits(digits):
        return digits
    if lengths in _GROUPINGS_12:
        # DD MM YYYY SSSS: the four-digit year must agree with the century the serial gives.
        cpr = digits[:4] + digits[6:]
        if _is_cpr_digits(cpr) and birth_date(cpr).year == int(digits[4:8]):
            return cpr
    return None


def _cpr_spans(text: str) -> Iterator[tuple[int, int, str]]:
    plain = _plain(text)
    for chain in _CHAIN.finditer(plain):
        body, base = chain.group(), chain.start()
        if body.isdigit():  # the common case: one plain number
            if len(body) == 10 and _is_cpr_digits(body):
                yield base, chain.end(), body
            continue
        digits = _BETWEEN_GROUPS.split(body)
        if "\x00" in body:
            digits = [d.replace("\x00", "") for d in digits]
        sizes = [len(d) for d in digits]
        # Digits before each group: a run of groups holds exactly 10 or 12 digits where two of
        # these differ by that much, so each group is one dictionary look-up.
        before = list(itertools.accumulate(sizes, initial=0))
        ends = {total: index for index, total in enumerate(before)}
        count, start = len(digits), 0
        spans: list[tuple[int, int]] = []
        while start < count:
            found = False
            for width in (10, 12):
                stop = ends.get(before[start] + width)
                if stop is None or stop - start > 5:
                    continue
                lengths = tuple(sizes[start:stop])
                if lengths in _WHOLE_CHAIN_ONLY and (start, stop) != (0, count):
                    continue
                cpr = _candidate("".join(digits[start:stop]), lengths)
                if cpr is not None:
                    spans = spans or [group.span() for group in _GROUP.finditer(body)]
                    yield base + spans[start][0], base + spans[stop - 1][1], cpr
                    start, found = stop, True
                    break
            if not found:
                start += 1


@dataclass(frozen=True)
class CprInText:
    start: int
    end: int
    cpr: str  # the ten digits

    def __repr__(self) -> str:  # never show the number itself in a traceback or log
        return f"CprInText(start={self.start}, end={self.end})"


def find_cprs(text: str) -> list[CprInText]:
    """Every CPR number in `text`, in any spelling, with its place in the original text."""
    return [CprInText(start, end, cpr) for start, end, cpr in _cpr_spans(text)]


def scrub_cpr(text: str, placeholder: str = "[CPR]") -> str:
    """Replace every CPR number in `text`, in any spelling, by `placeholder`."""
    pieces: list[str] = []
    last = 0
    for start, end, _cpr in _cpr_spans(text):
        pieces.append(text[last:start])
        pieces.append(placeholder)
        last = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _texts(item)


def refuse_cpr_in_text(value: Any) -> Any:
    """Validate a field a person fills in (text, a list of texts, JSON): a CPR number in any
    spelling `find_cprs` knows is refused with pydantic's error `cpr_in_text`."""
    if any(contains_cpr(text) for text in _texts(value)):
        raise PydanticCustomError("cpr_in_text", "fjern CPR-numre fra teksten")
    return value

