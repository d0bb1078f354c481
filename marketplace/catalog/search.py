"""Catalog search (pure): answer a search from an in-memory index of the published catalog.

The API and the catalog page read a search with `catalog.schemas.DatasetSearch`."""
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from marketplace.catalog import vocabulary as voc

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

    RESULTS_KEPT = 512

    def __init__(self, entries: list[IndexEntry]) -> None:
        # Answers to recent searches, and the public descriptors shown, for this catalog state.
        self.results: OrderedDict[SearchQuery, tuple[list[int], int, dict]] = OrderedDict()
        self.documents: dict[int, dict] = {}
        self._lock = threading.Lock()
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
        with self._lock:
            answer = self.results.get(query)
        if answer is None:
            answer = self._search(query)
            with self._lock:
                self.results[query] = answer
                if len(self.results) > self.RESULTS_KEPT:
                    self.results.popitem(last=False)
        return answer

    def _search(self, query: SearchQuery) -> tuple[list[int], int, dict[str, dict[str, int]]]:
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
