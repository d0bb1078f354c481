"""A page of a long list (applications, the public register) and what asks for one.

Pure module. The edge validates `page` and `per_page` (`marketplace.web.api.PageQuery`); the
services only need the numbers.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Paging(Protocol):
    """Which page to show: `page` from 1, `per_page` rows each."""

    @property
    def page(self) -> int: ...

    @property
    def per_page(self) -> int: ...

    @property
    def offset(self) -> int: ...


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
