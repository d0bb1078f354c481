"""HealthDCAT-AP (DCAT-AP 3) export of published descriptors (pure: dicts in, text out).

The graph is built from the HealthDCAT-AP shapes rather than from its example template: every
mandatory property of a non-public health dataset is present for every dataset, whatever its
access rights, so one export satisfies the opendata, protected and sensitive shapes alike.

Triples are written straight to text. A catalog of 10,000 datasets is some 600,000 triples;
loading them into an rdflib graph and serialising it took most of a minute, while the graph's
only job here is to be printed. Each term is made once, already as N-Triples writes it, so
Turtle is the triples joined (N-Triples, valid Turtle, one triple a line) and JSON-LD, flattened
node objects with full IRIs, is derived from the same terms; `build_graph` parses the text back
into rdflib for tests and SHACL checks.
"""
import gc
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cached_property, lru_cache
from json.encoder import encode_basestring
from typing import Any

from rdflib import Graph

from marketplace.catalog import vocabulary as voc
from marketplace.languages import translate


class _Vocabulary:
    """The terms of one vocabulary as N-Triples writes them: `DCT.title` is
    "<http://purl.org/dc/terms/title>", made on first use and then a plain attribute."""

    def __init__(self, iri: str) -> None:
        self.iri = iri

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):  # what copy, pickle and the like look for is no term
            raise AttributeError(name)
        term = self.__dict__[name] = f"<{self.iri}{name}>"
        return term


RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
DCAT = _Vocabulary("http://www.w3.org/ns/dcat#")
DCT = _Vocabulary("http://purl.org/dc/terms/")
FOAF = _Vocabulary("http://xmlns.com/foaf/0.1/")
RDFS = _Vocabulary("http://www.w3.org/2000/01/rdf-schema#")
SKOS = _Vocabulary("http://www.w3.org/2004/02/skos/core#")
XSD = _Vocabulary("http://www.w3.org/2001/XMLSchema#")
DCATAP = _Vocabulary("http://data.europa.eu/r5r/")
HEALTH = _Vocabulary("http://healthdataportal.eu/ns/health#")
DPV = _Vocabulary("https://w3id.org/dpv#")
VCARD = _Vocabulary("http://www.w3.org/2006/vcard/ns#")
ADMS = _Vocabulary("http://www.w3.org/ns/adms#")
ELI = _Vocabulary("http://data.europa.eu/eli/ontology#")
EU = "http://publications.europa.eu/resource/authority/"
EHDS = "<http://data.europa.eu/eli/reg/2025/327/oj>"
DANISH = f"<{EU}language/DAN>"
DENMARK = f"<{EU}country/DNK>"
PARQUET = f"<{EU}file-type/PARQUET>"
JSON_FILE = f"<{EU}file-type/JSON>"
PARQUET_MEDIA_TYPE = "<http://www.iana.org/assignments/media-types/application/vnd.apache.parquet>"
HEALTH_RECORD = "<https://w3id.org/dpv/pd#HealthRecord>"
DUO = "http://purl.obolibrary.org/obo/"
ICD10 = "<https://www.wikidata.org/wiki/Q45127>"
PUBLISHER_TYPES = {
    "national": ("NationalAuthority", "Nationale myndighed", "National authority"),
    "regional": ("RegionalAuthority", "Regional myndighed", "Regional authority"),
    "municipal": ("LocalAuthority", "Kommunal myndighed", "Local authority"),
}
HDAB = {"name": "Sundhedsdatastyrelsen (sundhedsdataadgangsorgan)",
        "homepage": "https://sundhedsdatastyrelsen.dk", "email": "kontakt@sundhedsdata.dk"}

PERSONAL_ROLES = ("direct_identifier", "quasi_identifier", "sensitive")

# Three terms, each as N-Triples writes it: <iri>, _:label, "text", "text"@language or
# "lexical form"^^<datatype>, the quoted text escaped as JSON escapes it.
Triple = tuple[str, str, str]
# What is said of one resource: (predicate, object) pairs.
Statements = tuple[tuple[str, str], ...]


@lru_cache(maxsize=1024)
def _bilingual(label: str) -> tuple[str, str]:
    """A vocabulary label in Danish (the source) and English, for both `skos:prefLabel`s
    (a handful of labels, asked for tens of thousands of times in a large catalog)."""
    return label, translate(label, "en")


def _iri(iri: str) -> str:
    return f"<{iri}>"


def _quoted(text: str) -> str:
    r"""A literal's quoted text, quoted as JSON quotes it (in C). N-Triples and Turtle read
    JSON's escapes (\" \\ \n \t \u001f ...) alike, so JSON-LD takes the text as it is."""
    return encode_basestring(text)


def _text(text: str, lang: str = "") -> str:
    return f"{_quoted(text)}@{lang}" if lang else _quoted(text)


def _typed(value: Any, datatype: str) -> str:
    if isinstance(value, str):
        lexical = value
    elif isinstance(value, bool):
        lexical = "true" if value else "false"
    elif isinstance(value, datetime | date):
        lexical = value.isoformat()
    else:
        lexical = str(value)
    return f"{_quoted(lexical)}^^{datatype}"


def _count(value: int) -> str:
    return f'"{value:d}"^^{XSD.nonNegativeInteger}'


def build_triples(descriptors: Iterable[dict], *, base_url: str, title: str,
                  modified: datetime | None = None) -> list[Triple]:
    """Return the catalog of `descriptors` (published datasets, as served by the API)."""
    base_url = _safe_iri(base_url.rstrip("/"))
    builder = _Builder(base_url)
    catalog = _iri(f"{base_url}/catalog")
    about = (
        (RDF_TYPE, DCAT.Catalog),
        (RDF_TYPE, FOAF.Document),  # its own homepage
        (DCT.title, _text(title, "da")),
        (DCT.description, _text("Sundhedsdata fra nationale, regionale og kommunale dataejere "
                                "i Region Hovedstaden.", "da")),
        (DCT.description, _text("Health data from national, regional and municipal data "
                                "holders in the Capital Region of Denmark.", "en")),
        (FOAF.homepage, catalog),
        (DCATAP.applicableLegislation, builder.legislation()),
        (DCT.language, builder.typed(DANISH, DCT.LinguisticSystem)),
        (DCT.spatial, builder.typed(DENMARK, DCT.Location)),
        (DCT.modified, _typed(
            (modified or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0),
            XSD.dateTime)),
        (DCT.publisher, builder.agent(HDAB, level="national", key="hdab")),
    )
    datasets = tuple((DCAT.dataset, builder.dataset(descriptor)) for descriptor in descriptors)
    builder.describe(catalog, about + datasets)  # last, so that its triples stay together too
    return builder.triples


class _Builder:
    """Collects the triples. A resource's own triples are kept together and follow those of
    the resources it refers to (concepts, agents, blank nodes), so each is one node of the
    JSON-LD graph rather than fragments to merge. What many resources state alike is made
    once per export (`Statements`, concepts) and then only repeated."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.described: set[tuple[str, str]] = set()
        self.triples: list[Triple] = []
        self.blank = 0
        self.node: str | None = None  # the dataset being described
        self.node_triples: list[Triple] = []
        # Made once and kept: the concepts of the vocabularies by (vocabulary, code) and the
        # statements about contact points and blank nodes that many datasets share.
        self.concepts: dict[tuple[str, str], str] = {}
        self.contacts: dict[tuple[str, str, str, str | None], Statements] = {}
        self.labelled: dict[tuple[str, str], Statements] = {}

    def add(self, subject: str, predicate: str, obj: str) -> None:
        (self.node_triples if subject == self.node else self.triples).append(
            (subject, predicate, obj))

    def describe(self, subject: str, statements: Statements) -> None:
        (self.node_triples if subject == self.node else self.triples).extend(
            [(subject, predicate, obj) for predicate, obj in statements])

    def bnode(self) -> str:
        self.blank += 1
        return f"_:b{self.blank}"

    def typed(self, node: str, *classes: str) -> str:
        """Declare the classes the shapes expect of a referenced resource."""
        for cls in classes:
            if (node, cls) not in self.described:
                self.described.add((node, cls))
                self.add(node, RDF_TYPE, cls)
        return node

    def concept(self, node: str, label_da: str, label_en: str | None = None) -> str:
        if (node, SKOS.Concept) in self.described:
            return node
        self.described.add((node, SKOS.Concept))
        self.add(node, RDF_TYPE, SKOS.Concept)
        self.add(node, SKOS.prefLabel, _text(label_da, "da"))
        if label_en:
            self.add(node, SKOS.prefLabel, _text(label_en, "en"))
        return node

    def _kept_concept(self, key: tuple[str, str], make: Callable[[], str]) -> str:
        """A vocabulary's concept by (vocabulary, code), made and described on first use."""
        found = self.concepts.get(key)
        if found is None:
            found = self.concepts[key] = make()
        return found

    def access_rights(self, code: str) -> str:
        return self._kept_concept(("access-right", code), lambda: self.typed(self.concept(
            _iri(f"{EU}access-right/{code}"), *_bilingual(voc.ACCESS_RIGHTS_LABELS[code])),
            DCT.RightsStatement))

    def theme(self, code: str) -> str:
        return self._kept_concept(("theme", code), lambda: self.concept(
            _iri(f"{EU}data-theme/{code}"), *_bilingual(voc.THEMES[code])))

    def health_category(self, code: str) -> str:
        return self._kept_concept(("health-category", code), lambda: self.concept(
            _iri(f"{self.base}/vocabulary/health-category/{code}"),
            *_bilingual(voc.HEALTH_CATEGORIES[code])))

    def health_theme(self, keyword: str) -> str:
        return self._kept_concept(("health-theme", keyword), lambda: self.concept(
            _iri(f"{self.base}/vocabulary/health-theme/{_slug(keyword)}"), keyword))

    def purpose(self, term: str) -> str:
        code = term.split(":", 1)[0]  # "TS:12": the argument stays in the label
        return self._kept_concept(("purpose", term), lambda: self.typed(
            self.concept(_iri(DUO + voc.DUO_IRIS[code]), f"DUO {term}"), DPV.Purpose))

    def labelled_as(self, cls: str, label: str) -> Statements:
        """Statements of a blank node of class `cls` with a Danish label."""
        return self.labelled.get((cls, label)) or self.labelled.setdefault(
            (cls, label), ((RDF_TYPE, cls), (RDFS.label, _text(label, "da"))))

    def agent(self, org: dict, *, level: str | None, key: str) -> str:
        node = _iri(f"{self.base}/organisations/{key}")
        if (node, FOAF.Agent) not in self.described:
            self.described.add((node, FOAF.Agent))
            homepage = org.get("homepage") or f"{self.base}/catalog?publisher={key}"
            self.describe(node, self.agent_statements(
                name=org["name"], email=org.get("email") or "kontakt@sundhedsdata.dk",
                homepage=homepage, level=level))
        return node

    def agent_statements(self, *, name: str, email: str, homepage: str,
                         level: str | None) -> Statements:
        kind, label_da, label_en = PUBLISHER_TYPES.get(level or "", PUBLISHER_TYPES["national"])
        publisher_type = self.concept(_iri(f"http://purl.org/adms/publishertype/{kind}"),
                                      label_da, label_en)
        return (
            (RDF_TYPE, FOAF.Agent),
            (FOAF.name, _text(name)),
            (DCT.type, publisher_type),
            (HEALTH.publisherType, publisher_type),
            (HEALTH.publisherNote, _text(
                f"{label_da} og dataejer på markedspladsen for sundhedsdata.", "da")),
            (HEALTH.trustedDataHolder, _typed(True, XSD.boolean)),
            (FOAF.homepage, self.typed(_iri(_safe_iri(homepage)), FOAF.Document)),
            (FOAF.mbox, _iri(_safe_iri(f"mailto:{email}"))),
        )

    @cached_property
    def health_dataset(self) -> Statements:
        """What every dataset states alike. Its page is also its distribution's access URL (a
        resource) and its own landing page (a document)."""
        return (
            (RDF_TYPE, DCAT.Dataset),
            (RDF_TYPE, RDFS.Resource),
            (RDF_TYPE, FOAF.Document),
            (DCATAP.applicableLegislation, self.legislation()),
            (DCT.type, self.concept(_iri(f"{self.base}/vocabulary/dataset-type/health-data"),
                                    "Sundhedsdata", "Health data")),
            (HEALTH.hdab, self.agent(HDAB, level="national", key="hdab")),
            (DCT.language, self.typed(DANISH, DCT.LinguisticSystem)),
        )

    def dataset(self, d: dict) -> str:
        iri = f"{self.base}/catalog/{d['id']}"
        node = self.node = _iri(iri)
        self.node_triples = []
        self.describe(node, self.health_dataset)
        self.described.add((node, FOAF.Document))  # a contact point may give it as its page
        add = self.node_triples.append
        add((node, DCT.identifier, _typed(f"{self.base}/api/v1/datasets/{d['id']}",
                                          XSD.anyURI)))
        add((node, DCT.title, _text(d["title"], "da")))
        add((node, DCT.description, _text(d["description"], "da")))
        if d.get("title_en"):
            add((node, DCT.title, _text(d["title_en"], "en")))
        if d.get("description_en"):
            add((node, DCT.description, _text(d["description_en"], "en")))
        keywords = d.get("keywords") or [d["title"]]
        for keyword in keywords:
            add((node, DCAT.keyword, _text(keyword, "da")))
        add((node, DCT.accessRights, self.access_rights(d["access_rights"])))
        for theme in d["themes"]:
            add((node, DCAT.theme, self.theme(theme)))
        for category in d["health_categories"]:
            add((node, HEALTH.healthCategory, self.health_category(category)))
        for keyword in keywords:
            add((node, HEALTH.healthTheme, self.health_theme(keyword)))
        publisher = d["publisher"]
        add((node, DCT.publisher, self.agent(publisher, level=publisher.get("level"),
                                             key=publisher["slug"])))
        add((node, DCAT.contactPoint, self.contact_point(iri, d)))
        add((node, DCT.provenance, self.provenance(d)))
        for code in d.get("spatial") or ["DK"]:
            add((node, DCT.spatial, self.typed(
                DENMARK if code == "DK" else _iri(_safe_iri(f"{self.base}/vocabulary/area/{code}")),
                DCT.Location)))
        self.purposes(node, d)
        self.legal_basis(node, d)
        self.facts(node, d)
        self.temporal(node, d.get("temporal"))
        self.code_values(node, d)
        add((node, DCAT.distribution, self.distribution(iri, d)))
        add((node, ADMS.sample, self.sample(iri, d)))
        add((node, DCAT.landingPage, node))
        self.triples.extend(self.node_triples)
        self.node, self.node_triples = None, []
        return node

    def legislation(self) -> str:
        return self.typed(EHDS, ELI.LegalResource)

    def contact_point(self, dataset: str, d: dict) -> str:
        """The contact point, described both as a vCard and as the agent the shapes expect."""
        node = _iri(f"{dataset}#contact-point")
        contact = d.get("contact_point") or {}
        publisher = d["publisher"]
        name = contact.get("name") or publisher["name"]
        email = contact.get("email") or publisher.get("email") or "kontakt@sundhedsdata.dk"
        url = contact.get("url") or publisher.get("homepage") or dataset
        key = (name, email, url, publisher.get("level"))
        statements = self.contacts.get(key)
        if statements is None:  # made once per contact: most datasets give their publisher's
            statements = self.contacts[key] = (
                (RDF_TYPE, VCARD.Kind),
                (VCARD.fn, _text(name)),
                (VCARD.hasEmail, _iri(_safe_iri(f"mailto:{email}"))),
                (VCARD.hasURL, _iri(_safe_iri(url))),
                *self.agent_statements(name=name, email=email, homepage=url, level=key[3]),
            )
        self.describe(node, statements)
        return node

    def provenance(self, d: dict) -> str:
        node = self.bnode()
        self.describe(node, self.labelled_as(
            DCT.ProvenanceStatement, f"Udgivet af {d['publisher']['name']}; data valideret mod "
                                     "kolonneordbogen på markedspladsen."))
        return node

    def purposes(self, node: str, d: dict) -> None:
        use = d["data_use"]
        for term in [use["permission"], *(use.get("modifiers") or [])]:
            self.add(node, DPV.hasPurpose, self.purpose(term))

    def legal_basis(self, node: str, d: dict) -> None:
        basis = self.bnode()
        self.describe(basis, self.labelled_as(DPV.LegalBasis, d["legal_basis"]))
        self.add(node, DPV.hasLegalBasis, basis)
        personal = d.get("has_personal_data")
        if personal is None:
            personal = any(c.get("role") in PERSONAL_ROLES for c in d.get("columns") or [])
        if personal:
            self.add(node, DPV.hasPersonalData, self.typed(HEALTH_RECORD, DPV.PersonalData))

    def facts(self, node: str, d: dict) -> None:
        for field, prop in (("number_of_records", HEALTH.numberOfRecords),
                            ("number_of_unique_individuals", HEALTH.numberOfUniqueIndividuals),
                            ("min_typical_age", HEALTH.minTypicalAge),
                            ("max_typical_age", HEALTH.maxTypicalAge)):
            value = d.get(field)
            if value is not None and value >= 0:
                self.add(node, prop, _count(int(value)))

    def temporal(self, node: str, temporal: dict | None) -> None:
        if not temporal or not (temporal.get("start") or temporal.get("end")):
            return
        period = self.bnode()
        self.add(period, RDF_TYPE, DCT.PeriodOfTime)
        for field, prop in (("start", DCAT.startDate), ("end", DCAT.endDate)):
            if temporal.get(field):
                self.add(period, prop, _typed(date.fromisoformat(temporal[field]), XSD.date))
        self.add(node, DCT.temporal, period)

    def code_values(self, node: str, d: dict) -> None:
        icd10 = d.get("uses_icd10")
        if icd10 is None:
            icd10 = any(c.get("code_system") == "icd10" for c in d.get("columns") or [])
        if icd10:
            self.add(node, HEALTH.hasCodingSystem, self.typed(ICD10, DCT.Standard))
        for disease in d["data_use"].get("diseases") or []:
            self.add(node, HEALTH.hasCodeValues, self.diagnosis(disease))

    def diagnosis(self, disease: str) -> str:
        """A code of the Danish edition of ICD-10 (SKS)."""
        iri = _safe_iri(f"{self.base}/vocabulary/sks/{disease}")
        code = _iri(iri)
        if (code, SKOS.Concept) not in self.described:
            self.described.add((code, SKOS.Concept))
            self.describe(code, (
                (RDF_TYPE, SKOS.Concept),
                (SKOS.prefLabel, _text(disease, "da")),
                (DCT.identifier, _typed(iri, XSD.anyURI)),
                (SKOS.inScheme, self.icd10_scheme),
                (SKOS.notation, _text(disease)),
            ))
        return code

    @cached_property
    def icd10_scheme(self) -> str:
        self.describe(ICD10, ((RDF_TYPE, SKOS.ConceptScheme), (DCT.title, _text("ICD-10 (SKS)"))))
        return ICD10

    # The resources a distribution refers to are described before it (the statements'
    # objects are made first), so that its own triples stay together.

    @cached_property
    def parquet_extract(self) -> Statements:
        """What every distribution states alike: the encrypted extract a permit releases."""
        return (
            (RDF_TYPE, DCAT.Distribution),
            (DCATAP.applicableLegislation, self.legislation()),
            (DCT.format, self.typed(PARQUET, DCT.MediaTypeOrExtent)),
            (DCAT.mediaType, self.typed(PARQUET_MEDIA_TYPE, DCT.MediaType)),
            (DCT.title, _text("Krypteret Parquet-udtræk efter tilladelse", "da")),
        )

    def distribution(self, dataset: str, d: dict) -> str:
        node = _iri(f"{dataset}#distribution")
        rights = self.bnode()
        self.describe(rights, self.labelled_as(
            DCT.RightsStatement, "Udleveres kun med en dataadgangstilladelse, pseudonymiseret "
                                 "eller anonymiseret, og kun til det godkendte formål."))
        self.describe(node, (
            *self.parquet_extract,
            (DCAT.accessURL, _iri(dataset)),  # the dataset's page, typed by the dataset
            (DCAT.byteSize, _count(int(d.get("byte_size") or 0))),
            (DCT.rights, rights),
        ))
        return node

    @cached_property
    def column_dictionary(self) -> Statements:
        """What every sample states alike: the column dictionary, free to read."""
        return (
            (RDF_TYPE, DCAT.Distribution),
            (DCT.format, self.typed(JSON_FILE, DCT.MediaTypeOrExtent)),
            (DCT.description, _text("Kolonneordbog og kvalitetsrapport (ingen persondata).",
                                    "da")),
        )

    def sample(self, dataset: str, d: dict) -> str:
        node = _iri(f"{dataset}#column-dictionary")
        api = _iri(f"{self.base}/api/v1/datasets/{d['id']}")
        self.add(api, RDF_TYPE, RDFS.Resource)  # one a dataset, typed once without asking
        self.describe(node, (*self.column_dictionary, (DCAT.accessURL, api)))
        return node


_IRI_UNSAFE = re.compile(r'[\x00-\x20<>"{}|^`\\]')


def _safe_iri(text: str) -> str:
    """Percent-encode what an IRI may not hold (a typed URL with a space, say)."""
    if not _IRI_UNSAFE.search(text):
        return text
    return _IRI_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode()), text)


@lru_cache(maxsize=4096)
def _slug(text: str) -> str:
    text = text.lower().replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "emne"


def to_ntriples(triples: Iterable[Triple]) -> str:
    """Write the triples as N-Triples, which is also valid Turtle (their terms are written
    already)."""
    return "".join([f"{s} {p} {o} .\n" for s, p, o in triples])


class _Encodings(dict[str, str]):
    """Each distinct term encoded once: classes, concepts, agents, labels and datatypes recur
    thousands of times."""

    def __init__(self, encode: Callable[[str], str]) -> None:
        super().__init__()
        self.encode = encode

    def __missing__(self, term: str) -> str:
        text = self[term] = self.encode(term)
        return text


def _json_id(term: str) -> str:
    """The JSON string of an IRI or a blank node."""
    return _quoted(term[1:-1] if term[0] == "<" else term)


def _jsonld_value(term: str) -> str:
    """The JSON-LD value object of an object term."""
    if term[0] == "<" or term[0] == "_":
        return '{"@id":' + _json_id(term) + "}"
    end = term.rindex('"') + 1  # the quoted text is a JSON string already
    quoted, suffix = term[:end], term[end:]
    if not suffix:
        return '{"@value":' + quoted + "}"
    if suffix[0] == "@":
        return '{"@value":' + quoted + ',"@language":"' + suffix[1:] + '"}'
    return '{"@value":' + quoted + ',"@type":' + _json_id(suffix[2:]) + "}"


def to_jsonld(triples: Iterable[Triple]) -> str:
    """Write the triples as flattened JSON-LD with full IRIs, in one pass.

    Consecutive triples about one subject share a node object; a subject met again later gets
    another node object, which a JSON-LD processor merges (nodes are identified by @id).
    """
    keys = _Encodings(lambda predicate: _json_id(predicate) + ":[")
    keys[RDF_TYPE] = '"@type":['
    values = _Encodings(_jsonld_value)
    types = _Encodings(_json_id)
    parts = ['{"@graph":[\n']
    current: str | None = None
    # The current node's properties, each as the texts of its array so far: the first
    # opens it ('"property":[value'), the others follow (',value').
    fields: dict[str, list[str]] = {}
    for subject, predicate, obj in triples:
        if subject != current:
            if current is not None:
                parts += _jsonld_node(current, fields), "},\n"
            current, fields = subject, {}
        value = types[obj] if predicate == RDF_TYPE else values[obj]
        found = fields.get(predicate)
        if found is None:
            fields[predicate] = [keys[predicate] + value]
        else:
            found.append("," + value)
    if current is not None:
        parts += _jsonld_node(current, fields), "}\n"
    parts.append("]}\n")
    return "".join(parts)


def _jsonld_node(subject: str, fields: dict[str, list[str]]) -> str:
    """A node object but its closing brace."""
    return '{"@id":' + _json_id(subject) + "," + "],".join(map("".join, fields.values())) + "]"


@contextmanager
def cyclic_collection_paused() -> Iterator[None]:
    """Hundreds of thousands of small tuples, dicts and lists without cycles: the cyclic
    collector would only rescan them again and again while they are built."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def export(descriptors: Iterable[dict], *, base_url: str, title: str, fmt: str,
           modified: datetime | None = None) -> str:
    """Return the catalog as Turtle ("ttl") or JSON-LD ("jsonld")."""
    with cyclic_collection_paused():
        triples = build_triples(descriptors, base_url=base_url, title=title, modified=modified)
        text = to_jsonld(triples) if fmt == "jsonld" else to_ntriples(triples)
        # Freed now, before the collector is back: it would otherwise scan them all once.
        del triples
    return text


def build_graph(descriptors: Iterable[dict], *, base_url: str, title: str,
                modified: datetime | None = None) -> Graph:
    """Return the catalog as an rdflib graph (for checks against the shapes)."""
    triples = build_triples(descriptors, base_url=base_url, title=title, modified=modified)
    return Graph().parse(data=to_ntriples(triples), format="nt")
