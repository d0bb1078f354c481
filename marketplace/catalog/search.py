"""Catalog search (pure): answer a search from an in-memory index of the published catalog.

The API and the catalog page read a search with `catalog.schemas.DatasetSearch`."""
import difflib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np

from marketplace.catalog import vocabulary as voc

MAX_PER_PAGE = 100
MAX_QUERY = 200
LEVELS = ("national", "regional", "municipal")
FACETS = ("publisher_level", "theme", "health_category", "access_rights")


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
    sort: str = "relevance"

    @property
    def terms(self) -> list[str]:
        return [t for t in self.q.lower().split() if t][:10]

    @property
    def filtered(self) -> bool:
        return any(getattr(self, facet) for facet in FACETS) or self.publisher is not None

    def without_filters(self) -> "SearchQuery":
        return replace(self, publisher_level=(), theme=(), health_category=(),
                       access_rights=(), publisher=None, page=1)


@dataclass(frozen=True)
class Suggestion:
    """Another search that finds something when one found nothing: `kind` says what changed
    ("spelling", "fewer_words" or "no_filters")."""

    kind: str
    query: SearchQuery
    total: int


@dataclass
class SearchResult:
    items: list = field(default_factory=list)
    total: int = 0
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    query: SearchQuery = field(default_factory=SearchQuery)
    suggestions: list[Suggestion] = field(default_factory=list)

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
        # The pages as the API sends them (JSON text): encoding is most of a repeated search.
        self.encoded: OrderedDict[SearchQuery, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.ids = np.array([e.id for e in entries], dtype=np.int64)
        self.text = [e.text for e in entries]
        self.title = [e.title.lower() for e in entries]
        self.level = np.array([e.level or "" for e in entries], dtype=object)
        self.publisher = np.array([e.publisher for e in entries], dtype=object)
        self.access = np.array([e.access_rights for e in entries], dtype=object)
        # Newest first, then highest id: the order shown when no title matches.
        self.order = np.lexsort((-self.ids, -np.array([e.published for e in entries])))
        self.by_title = np.array(sorted(range(len(entries)),
                                        key=lambda i: (self.title[i], entries[i].id)),
                                 dtype=np.int64)
        self._words: list[str] | None = None  # the catalog's words, for spelling suggestions
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

    def encoded_page(self, query: SearchQuery) -> bytes | None:
        with self._lock:
            return self.encoded.get(query)

    def keep_encoded(self, query: SearchQuery, body: bytes) -> None:
        with self._lock:
            self.encoded[query] = body
            if len(self.encoded) > self.RESULTS_KEPT:
                self.encoded.popitem(last=False)

    def _search(self, query: SearchQuery) -> tuple[list[int], int, dict[str, dict[str, int]]]:
        matched = np.ones(len(self.ids), dtype=bool)
        for term in query.terms:
            matched &= _contains(self.text, term)
        if query.publisher:
            matched &= self.publisher == query.publisher
        by_facet = {facet: self._facet_mask(facet, getattr(query, facet)) for facet in FACETS}
        mask = matched.copy()
        for chosen in by_facet.values():
            mask &= chosen
        ranked = self._ranked(mask, query)
        start = (query.page - 1) * query.per_page
        page = [int(i) for i in self.ids[ranked[start:start + query.per_page]]]
        return page, int(mask.sum()), self._facets(matched, by_facet)

    def _facet_mask(self, facet: str, chosen: tuple[str, ...]) -> np.ndarray:
        """Entries having any chosen value of the facet (all entries when none is chosen)."""
        if not chosen:
            return np.ones(len(self.ids), dtype=bool)
        if facet in self.tags:
            return np.logical_or.reduce([self.tags[facet][c] for c in chosen])
        values = self.level if facet == "publisher_level" else self.access
        return np.isin(values, chosen)

    def _ranked(self, mask: np.ndarray, query: SearchQuery) -> np.ndarray:
        if query.sort == "title":
            return self.by_title[mask[self.by_title]]
        ranked = self.order[mask[self.order]]
        if query.terms and query.sort == "relevance":
            in_title = _contains(self.title, query.terms[0])
            ranked = np.concatenate([ranked[in_title[ranked]], ranked[~in_title[ranked]]])
        return ranked

    def _facets(self, matched: np.ndarray, by_facet: dict[str, np.ndarray]
                ) -> dict[str, dict[str, int]]:
        """Counts for every value of every facet. A facet's counts leave out its own filter
        (values of one facet are alternatives), so each count is what ticking it would add."""
        def others(facet: str) -> np.ndarray:
            mask = matched.copy()
            for name, chosen in by_facet.items():
                if name != facet:
                    mask &= chosen
            return mask

        level, theme = others("publisher_level"), others("theme")
        category, access = others("health_category"), others("access_rights")
        return {
            "publisher_level": {lv: int((level & (self.level == lv)).sum()) for lv in LEVELS},
            "theme": {c: int((theme & m).sum()) for c, m in self.tags["theme"].items()},
            "health_category": {c: int((category & m).sum())
                                for c, m in self.tags["health_category"].items()},
            "access_rights": {r: int((access & (self.access == r)).sum())
                              for r in voc.ACCESS_RIGHTS},
        }

    def suggest(self, query: SearchQuery, *, limit: int = 3) -> list[Suggestion]:
        """Searches like `query` that find something: words spelt as the catalog spells them,
        fewer words, or no filters."""
        candidates: list[tuple[str, SearchQuery]] = []
        terms = query.terms
        if terms:
            spelt = [self._closest_word(term) or term for term in terms]
            if spelt != terms:
                candidates.append(("spelling", replace(query, q=" ".join(spelt), page=1)))
        if len(terms) > 1:
            for dropped in range(len(terms)):
                rest = " ".join(t for i, t in enumerate(terms) if i != dropped)
                candidates.append(("fewer_words", replace(query, q=rest, page=1)))
        if query.filtered:
            candidates.append(("no_filters", query.without_filters()))
            if terms:
                spelt_query = next((q for kind, q in candidates if kind == "spelling"), None)
                if spelt_query is not None:
                    candidates.append(("spelling", spelt_query.without_filters()))
        found: list[Suggestion] = []
        for kind, candidate in candidates:
            total = self.search(candidate)[1]
            if total and all(s.query.q != candidate.q or s.query.filtered != candidate.filtered
                             for s in found):
                found.append(Suggestion(kind, candidate, total))
        return found[:limit]

    def _closest_word(self, term: str) -> str | None:
        if self._words is None:
            self._words = sorted({w for text in self.text for w in _WORD.findall(text)})
        close = difflib.get_close_matches(term, self._words, n=1, cutoff=0.75)
        return close[0] if close else None


_WORD = re.compile(r"\w{3,}")


def _contains(texts: list[str], term: str) -> np.ndarray:
    # Plain substring tests beat vectorised string kernels on a few thousand short texts.
    return np.fromiter((term in text for text in texts), dtype=bool, count=len(texts))
