"""Reading the fields of testbeds requests: texts, vocabulary codes, numbers and dates.

Each reader appends a `{field, message}` to `errors` instead of raising, so a service can
report every problem of a request at once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from marketplace.testbeds.matching import (
    MAX_CODES,
    Vocabulary,
)

VOCABULARY = Vocabulary.load()
MAX_TITLE = 200
MAX_TEXT = 5_000
MAX_COST_DKK = 1_000_000_000


def read_codes(data: Mapping[str, Any], name: str, known: Mapping[str, Any],
               errors: list[dict[str, str]]) -> list[str] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        errors.append({"field": name, "message": "must be a list of codes"})
        return None
    if len(value) > MAX_CODES:
        errors.append({"field": name, "message": f"at most {MAX_CODES} codes"})
        return None
    unknown = sorted(set(value) - known.keys())
    if unknown:
        errors.append({"field": name, "message": f"unknown codes: {', '.join(unknown)}"})
        return None
    return sorted(set(value))


def read_text(data: Mapping[str, Any], name: str, limit: int, errors: list[dict[str, str]],
              *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            errors.append({"field": name, "message": "is required"})
        return None
    if not isinstance(value, str):
        errors.append({"field": name, "message": "must be text"})
        return None
    value = value.strip()
    if required and not value:
        errors.append({"field": name, "message": "must not be empty"})
    elif len(value) > limit:
        errors.append({"field": name, "message": f"at most {limit} characters"})
    else:
        return value
    return None


def read_integer(data: Mapping[str, Any], name: str, low: int, high: int,
                 errors: list[dict[str, str]]) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.append({"field": name, "message": f"must be a whole number from {low} to {high}"})
        return None
    return value


def read_date(data: Mapping[str, Any], name: str, errors: list[dict[str, str]]) -> date | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors.append({"field": name, "message": "must be a date (YYYY-MM-DD)"})
        return None


def read_number(data: Mapping[str, Any], name: str, errors: list[dict[str, str]],
                *, required: bool) -> float | None:
    value = data.get(name)
    if value in (None, ""):
        if required:
            errors.append({"field": name, "message": "is required"})
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors.append({"field": name, "message": "must be a number"})
        return None
    if isinstance(value, bool) or not abs(number) < 1e12:
        errors.append({"field": name, "message": "must be a finite number"})
        return None
    return number
