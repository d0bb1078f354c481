"""Paging of long lists (applications, the public register): parameters in, a Page out.

Pure module: reads `page` and `per_page` from query arguments, within sane bounds, and reports
malformed values as one Invalid with an entry per field.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from marketplace.errors import Invalid

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 100_000

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def parse_page_request(args: Mapping[str, Any]) -> PageRequest:
    """Read page (from 1) and per_page (1 to MAX_PER_PAGE); raise Invalid naming each field."""
    errors = []
    page = _whole(args.get("page"), 1)
    if page is None or not 1 <= page <= MAX_PAGE:
        errors.append({"field": "page", "message": f"must be a whole number from 1 to {MAX_PAGE}"})
    per_page = _whole(args.get("per_page"), DEFAULT_PER_PAGE)
    if per_page is None or not 1 <= per_page <= MAX_PER_PAGE:
        errors.append({"field": "per_page",
                       "message": f"must be a whole number from 1 to {MAX_PER_PAGE}"})
    if errors:
        raise Invalid("invalid paging: " + ", ".join(e["field"] for e in errors), errors=errors)
    return PageRequest(page, per_page)


def _whole(value: Any, default: int) -> int | None:
    if value in (None, ""):
        return default
    text = str(value).strip()
    return int(text) if text.isdigit() and len(text) < 10 else None
