"""Catalog search (pure): counts for every facet value, sorting and suggestions."""
from dataclasses import replace

from marketplace.catalog.search import CatalogIndex, IndexEntry, SearchQuery


def entry(id, title, *, level="regional", access="RESTRICTED", themes=("HEAL",),
          categories=("EHR",), published=0.0):
    return IndexEntry(id=id, level=level, publisher=f"org-{level}", access_rights=access,
                      text=title.lower(), title=title, published=published, themes=themes,
                      health_categories=categories)


INDEX = CatalogIndex([
    entry(1, "Hjertesvigt i Herlev", published=3),
    entry(2, "Astma hos børn", level="municipal", categories=("CARE",), published=1),
    entry(3, "Kræftregister", level="national", access="NON_PUBLIC",
          categories=("REGISTRY",), published=2),
])


def test_each_facet_counts_every_value_as_if_its_own_filter_were_off():
    _, total, facets = INDEX.search(SearchQuery(publisher_level=("regional",)))
    assert total == 1
    # Ticking "municipal" too would add one: the level counts ignore the level filter.
    assert facets["publisher_level"] == {"national": 1, "regional": 1, "municipal": 1}
    # Other facets count within the chosen level.
    assert facets["health_category"]["CARE"] == 0 and facets["health_category"]["EHR"] == 1
    assert set(facets["theme"]) >= {"HEAL", "SOCI"} and facets["theme"]["SOCI"] == 0


def test_results_sort_by_relevance_title_or_newest():
    def ids(sort, q=""):
        return INDEX.search(SearchQuery(q=q, sort=sort))[0]
    assert ids("newest") == [1, 3, 2]
    assert ids("title") == [2, 1, 3]
    assert ids("relevance", q="i") == [1, 3]  # both titles match: newest first
    assert ids("relevance", q="hjerte") == [1]


def test_a_search_that_finds_nothing_suggests_searches_that_do():
    spelt = INDEX.suggest(SearchQuery(q="astmaa"))
    assert [(s.kind, s.query.q, s.total) for s in spelt] == [("spelling", "astma", 1)]
    fewer = INDEX.suggest(SearchQuery(q="astma giraf"))
    assert ("fewer_words", "astma", 1) in [(s.kind, s.query.q, s.total) for s in fewer]
    filtered = INDEX.suggest(SearchQuery(q="astma", access_rights=("NON_PUBLIC",)))
    assert [(s.kind, s.query.filtered) for s in filtered] == [("no_filters", False)]
    assert INDEX.suggest(SearchQuery(q="xyzzy")) == []


def test_without_filters_keeps_the_words_and_the_sort():
    query = SearchQuery(q="kol", theme=("HEAL",), publisher="x", sort="title", page=3)
    assert query.without_filters() == replace(SearchQuery(q="kol", sort="title"))
