"""Catalog search (pure): parse what a browser or API client asks for, and answer it from an
in-memory index of the published catalog."""
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from marketplace.catalog import vocabulary as voc
from marketplace.errors import Invalid

MAX_PER_PAGE = 100
MAX_QUERY = 200
LEVELS = ("national", "regional", "municipal")


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    publisher_level: tuple[str, ...] = ()
    theme: tuple[str, ...] = ()
    health_category: tuple[str, ...] = ()
    access_rights: tuple[str, ...] = ()
    publisher: str | None = None
    page: int = 1
    per_page: int = 20

    @property
    def terms(self) -> list[str]:
        return [t for t in self.q.lower().split() if t][:10]


@dataclass
class SearchResult:
    items: list = field(default_factory=list)
    total: int = 0
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    query: SearchQuery = field(default_factory=SearchQuery)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def _values(args: Mapping, name: str, allowed: tuple[str, ...] | dict,
            errors: list[dict]) -> tuple[str, ...]:
    getlist = getattr(args, "getlist", None)
    raw = getlist(name) if getlist else ([args[name]] if name in args else [])
    values = [v.strip() for item in raw for v in str(item).split(",") if v.strip()]
    for value in values:
        if value not in allowed:
            errors.append({"field": name, "message": f"Unknown value {value[:40]!r}; use one "
                           "of " + ", ".join(allowed) + "."})
    return tuple(dict.fromkeys(values))


def _number(args: Mapping, name: str, default: int, low: int, high: int,
            errors: list[dict]) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        errors.append({"field": name, "message": "Must be a whole number."})
        return default
    if not low <= value <= high:
        errors.append({"field": name, "message": f"Must be between {low} and {high}."})
        return default
    return value


def parse_search_args(args: Mapping) -> SearchQuery:
    """Return the search the request asks for; raise Invalid naming each bad parameter."""
    errors: list[dict] = []
    q = str(args.get("q") or "").strip()
    if len(q) > MAX_QUERY:
        errors.append({"field": "q", "message": f"At most {MAX_QUERY} characters."})
    query = SearchQuery(
        q=q[:MAX_QUERY],
        publisher_level=_values(args, "publisher_level", LEVELS, errors),
        theme=_values(args, "theme", voc.THEMES, errors),
        health_category=_values(args, "health_category", voc.HEALTH_CATEGORIES, errors),
        access_rights=_values(args, "access_rights", voc.ACCESS_RIGHTS, errors),
        publisher=(str(args.get("publisher")).strip()[:80] or None)
        if args.get("publisher") else None,
        page=_number(args, "page", 1, 1, 100_000, errors),
        per_page=_number(args, "per_page", 20, 1, MAX_PER_PAGE, errors),
    )
    if errors:
        raise Invalid("The search parameters are not valid.", errors=errors)
    return query


@dataclass(frozen=True)
class IndexEntry:
    id: int
    level: str | None
    publisher: str
    access_rights: str
    text: str
    title: str
    published: float
    themes: tuple[str, ...]
    health_categories: tuple[str, ...]


class CatalogIndex:
    """The published catalog as columns in memory: matching and facet counts are a handful of
    vectorised operations over all entries instead of several SQL scans per search."""

    def __init__(self, entries: list[IndexEntry]) -> None:
        self.ids = np.array([e.id for e in entries], dtype=np.int64)
        self.text = [e.text for e in entries]
        self.title = [e.title.lower() for e in entries]
        self.level = np.array([e.level or "" for e in entries], dtype=object)
        self.publisher = np.array([e.publisher for e in entries], dtype=object)
        self.access = np.array([e.access_rights for e in entries], dtype=object)
        # Newest first, then highest id: the order shown when no title matches.
        self.order = np.lexsort((-self.ids, -np.array([e.published for e in entries])))
        self.tags = {
            "theme": {code: np.array([code in e.themes for e in entries], dtype=bool)
                      for code in voc.THEMES},
            "health_category": {code: np.array([code in e.health_categories
                                                for e in entries], dtype=bool)
                                for code in voc.HEALTH_CATEGORIES},
        }

    def search(self, query: SearchQuery) -> tuple[list[int], int, dict[str, dict[str, int]]]:
        """Return the ids of the requested page, the total and the facet counts."""
        mask = np.ones(len(self.ids), dtype=bool)
        for term in query.terms:
            mask &= _contains(self.text, term)
        for values, chosen in ((self.level, query.publisher_level),
                               (self.access, query.access_rights)):
            if chosen:
                mask &= np.isin(values, chosen)
        if query.publisher:
            mask &= self.publisher == query.publisher
        for facet, chosen in (("theme", query.theme), ("health_category", query.health_category)):
            if chosen:
                mask &= np.logical_or.reduce([self.tags[facet][c] for c in chosen])
        ranked = self.order[mask[self.order]]
        if query.terms:
            in_title = _contains(self.title, query.terms[0])
            ranked = np.concatenate([ranked[in_title[ranked]], ranked[~in_title[ranked]]])
        start = (query.page - 1) * query.per_page
        page = [int(i) for i in self.ids[ranked[start:start + query.per_page]]]
        return page, int(mask.sum()), self._facets(mask)

    def _facets(self, mask: np.ndarray) -> dict[str, dict[str, int]]:
        return {
            "publisher_level": {lv: int((mask & (self.level == lv)).sum()) for lv in LEVELS},
            "theme": {c: int((mask & m).sum()) for c, m in self.tags["theme"].items()},
            "health_category": {c: int((mask & m).sum())
                                for c, m in self.tags["health_category"].items()},
            "access_rights": {r: int((mask & (self.access == r)).sum())
                              for r in voc.ACCESS_RIGHTS},
        }


def _contains(texts: list[str], term: str) -> np.ndarray:
    # Plain substring tests beat vectorised string kernels on a few thousand short texts.
    return np.fromiter((term in text for text in texts), dtype=bool, count=len(texts))
