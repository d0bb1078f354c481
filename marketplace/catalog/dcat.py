"""HealthDCAT-AP (DCAT-AP 3) export of published descriptors (pure: dicts in, text out).

The graph is built from the HealthDCAT-AP shapes rather than from its example template: every
mandatory property of a non-public health dataset is present for every dataset, whatever its
access rights, so one export satisfies the opendata, protected and sensitive shapes alike.

Triples are written straight to text. A catalog of 10,000 datasets is some 600,000 triples;
loading them into an rdflib graph and serialising it took most of a minute, while the graph's
only job here is to be printed. Turtle is written as N-Triples (valid Turtle, one triple a line)
and JSON-LD as flattened node objects with full IRIs; `build_graph` parses the text back into
rdflib for tests and SHACL checks.
"""
import gc
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from rdflib import Graph

from marketplace.catalog import vocabulary as voc
from marketplace.languages import translate

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_DCAT = "http://www.w3.org/ns/dcat#"
_DCT = "http://purl.org/dc/terms/"
_FOAF = "http://xmlns.com/foaf/0.1/"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_SKOS = "http://www.w3.org/2004/02/skos/core#"
_XSD = "http://www.w3.org/2001/XMLSchema#"
DCATAP = "http://data.europa.eu/r5r/"
HEALTH = "http://healthdataportal.eu/ns/health#"
DPV = "https://w3id.org/dpv#"
VCARD = "http://www.w3.org/2006/vcard/ns#"
ADMS = "http://www.w3.org/ns/adms#"
ELI = "http://data.europa.eu/eli/ontology#"
EU = "http://publications.europa.eu/resource/authority/"
EHDS = "http://data.europa.eu/eli/reg/2025/327/oj"
DANISH = EU + "language/DAN"
DENMARK = EU + "country/DNK"
PARQUET = EU + "file-type/PARQUET"
DUO = "http://purl.obolibrary.org/obo/"
ICD10 = "https://www.wikidata.org/wiki/Q45127"
PUBLISHER_TYPES = {
    "national": ("NationalAuthority", "Nationale myndighed", "National authority"),
    "regional": ("RegionalAuthority", "Regional myndighed", "Regional authority"),
    "municipal": ("LocalAuthority", "Kommunal myndighed", "Local authority"),
}
HDAB = {"name": "Sundhedsdatastyrelsen (sundhedsdataadgangsorgan)",
        "homepage": "https://sundhedsdatastyrelsen.dk", "email": "kontakt@sundhedsdata.dk"}

PERSONAL_ROLES = ("direct_identifier", "quasi_identifier", "sensitive")

# An object is ("i", iri), ("l", text, language or "") or ("t", lexical form, datatype IRI).
Obj = tuple[str, ...]
Triple = tuple[str, str, Obj]


@lru_cache(maxsize=1024)
def _bilingual(label: str) -> tuple[str, str]:
    """A vocabulary label in Danish (the source) and English, for both `skos:prefLabel`s
    (a handful of labels, asked for tens of thousands of times in a large catalog)."""
    return label, translate(label, "en")


def _text(text: str, lang: str = "") -> Obj:
    return ("l", text, lang)


def _typed(value: Any, datatype: str) -> Obj:
    if isinstance(value, bool):
        lexical = "true" if value else "false"
    elif isinstance(value, datetime | date):
        lexical = value.isoformat()
    else:
        lexical = str(value)
    return ("t", lexical, _XSD + datatype)


def build_triples(descriptors: Iterable[dict], *, base_url: str, title: str,
                  modified: datetime | None = None) -> list[Triple]:
    """Return the catalog of `descriptors` (published datasets, as served by the API)."""
    base_url = base_url.rstrip("/")
    builder = _Builder(base_url)
    add = builder.add
    catalog = f"{base_url}/catalog"
    add(catalog, RDF_TYPE, ("i", _DCAT + "Catalog"))
    add(catalog, _DCT + "title", _text(title, "da"))
    add(catalog, _DCT + "description", _text(
        "Sundhedsdata fra nationale, regionale og kommunale dataejere i Region Hovedstaden.",
        "da"))
    add(catalog, _DCT + "description", _text(
        "Health data from national, regional and municipal data holders in the Capital Region "
        "of Denmark.", "en"))
    add(catalog, _FOAF + "homepage", builder.typed(f"{base_url}/catalog", _FOAF + "Document"))
    add(catalog, DCATAP + "applicableLegislation", builder.legislation())
    add(catalog, _DCT + "language", builder.typed(DANISH, _DCT + "LinguisticSystem"))
    add(catalog, _DCT + "spatial", builder.typed(DENMARK, _DCT + "Location"))
    add(catalog, _DCT + "modified", _typed(
        (modified or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0), "dateTime"))
    add(catalog, _DCT + "publisher", builder.agent(HDAB, level="national", key="hdab"))
    # Described first and linked after, so the catalog's own triples stay together too.
    for dataset in [builder.dataset(descriptor) for descriptor in descriptors]:
        add(catalog, _DCAT + "dataset", dataset)
    return builder.triples


class _Builder:
    """Collects the triples. A dataset's own triples are kept together and follow those of
    the resources it refers to (concepts, agents, blank nodes), so each dataset is one node of
    the JSON-LD graph rather than a dozen fragments to merge."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.described: set[tuple[str, str]] = set()
        self.triples: list[Triple] = []
        self.blank = 0
        self.node: str | None = None  # the dataset being described
        self.node_triples: list[Triple] = []

    def add(self, subject: str, predicate: str, obj: Obj) -> None:
        (self.node_triples if subject == self.node else self.triples).append(
            (subject, predicate, obj))

    def bnode(self) -> str:
        self.blank += 1
        return f"_:b{self.blank}"

    def typed(self, iri: str, *classes: str) -> Obj:
        """Declare the classes the shapes expect of a referenced resource."""
        for cls in classes:
            if (iri, cls) not in self.described:
                self.described.add((iri, cls))
                self.add(iri, RDF_TYPE, ("i", cls))
        return ("i", iri)

    def concept(self, iri: str, label_da: str, label_en: str | None = None) -> str:
        if (iri, _SKOS + "Concept") in self.described:
            return iri
        self.described.add((iri, _SKOS + "Concept"))
        self.add(iri, RDF_TYPE, ("i", _SKOS + "Concept"))
        self.add(iri, _SKOS + "prefLabel", _text(label_da, "da"))
        if label_en:
            self.add(iri, _SKOS + "prefLabel", _text(label_en, "en"))
        return iri

    def agent(self, org: dict, *, level: str | None, key: str) -> Obj:
        node = f"{self.base}/organisations/{key}"
        if (node, _FOAF + "Agent") not in self.described:
            homepage = org.get("homepage") or f"{self.base}/catalog?publisher={key}"
            self.describe_agent(node, name=org["name"], email=org.get("email")
                                or "kontakt@sundhedsdata.dk", homepage=homepage, level=level)
        return ("i", node)

    def describe_agent(self, node: str, *, name: str, email: str, homepage: str,
                       level: str | None) -> None:
        add = self.add
        self.described.add((node, _FOAF + "Agent"))
        add(node, RDF_TYPE, ("i", _FOAF + "Agent"))
        add(node, _FOAF + "name", _text(name))
        kind, label_da, label_en = PUBLISHER_TYPES.get(level or "", PUBLISHER_TYPES["national"])
        publisher_type = ("i", self.concept(f"http://purl.org/adms/publishertype/{kind}", label_da,
                                         label_en))
        add(node, _DCT + "type", publisher_type)
        add(node, HEALTH + "publisherType", publisher_type)
        add(node, HEALTH + "publisherNote", _text(
            f"{label_da} og dataejer på markedspladsen for sundhedsdata.", "da"))
        add(node, HEALTH + "trustedDataHolder", _typed(True, "boolean"))
        add(node, _FOAF + "homepage", self.typed(_safe_iri(homepage), _FOAF + "Document"))
        add(node, _FOAF + "mbox", ("i", _safe_iri(f"mailto:{email}")))

    def dataset(self, d: dict) -> Obj:
        node = self.node = f"{self.base}/catalog/{d['id']}"
        self.node_triples = []
        add = self.node_triples.append
        add((node, RDF_TYPE, ("i", _DCAT + "Dataset")))
        add((node, _DCT + "identifier", _typed(f"{self.base}/api/v1/datasets/{d['id']}",
                                               "anyURI")))
        add((node, _DCT + "title", _text(d["title"], "da")))
        add((node, _DCT + "description", _text(d["description"], "da")))
        if d.get("title_en"):
            add((node, _DCT + "title", _text(d["title_en"], "en")))
        if d.get("description_en"):
            add((node, _DCT + "description", _text(d["description_en"], "en")))
        keywords = d.get("keywords") or [d["title"]]
        for keyword in keywords:
            add((node, _DCAT + "keyword", _text(keyword, "da")))
        rights = d["access_rights"]
        add((node, _DCT + "accessRights", self.typed(
            self.concept(EU + f"access-right/{rights}",
                         *_bilingual(voc.ACCESS_RIGHTS_LABELS[rights])),
            _DCT + "RightsStatement")))
        add((node, DCATAP + "applicableLegislation", self.legislation()))
        for theme in d["themes"]:
            add((node, _DCAT + "theme", ("i", self.concept(EU + f"data-theme/{theme}",
                                                        *_bilingual(voc.THEMES[theme])))))
        for category in d["health_categories"]:
            add((node, HEALTH + "healthCategory", ("i", self.concept(
                f"{self.base}/vocabulary/health-category/{category}",
                *_bilingual(voc.HEALTH_CATEGORIES[category])))))
        for keyword in keywords:
            add((node, HEALTH + "healthTheme", ("i", self.concept(
                f"{self.base}/vocabulary/health-theme/{_slug(keyword)}", keyword))))
        add((node, _DCT + "type", ("i", self.concept(
            f"{self.base}/vocabulary/dataset-type/health-data", "Sundhedsdata", "Health data"))))
        publisher = d["publisher"]
        add((node, _DCT + "publisher", self.agent(publisher, level=publisher.get("level"),
                                                  key=publisher["slug"])))
        add((node, HEALTH + "hdab", self.agent(HDAB, level="national", key="hdab")))
        add((node, _DCAT + "contactPoint", self.contact_point(d)))
        add((node, _DCT + "provenance", self.provenance(d)))
        add((node, _DCT + "language", self.typed(DANISH, _DCT + "LinguisticSystem")))
        for code in d.get("spatial") or ["DK"]:
            add((node, _DCT + "spatial", self.typed(
                DENMARK if code == "DK" else f"{self.base}/vocabulary/area/{code}",
                _DCT + "Location")))
        self.purposes(node, d)
        self.legal_basis(node, d)
        self.facts(node, d)
        self.temporal(node, d.get("temporal"))
        self.code_values(node, d)
        add((node, _DCAT + "distribution", self.distribution(d)))
        add((node, ADMS + "sample", self.sample(d)))
        add((node, _DCAT + "landingPage", self.typed(f"{self.base}/catalog/{d['id']}",
                                                     _FOAF + "Document")))
        self.triples.extend(self.node_triples)
        self.node, self.node_triples = None, []
        return ("i", node)

    def legislation(self) -> Obj:
        return self.typed(EHDS, ELI + "LegalResource")

    def contact_point(self, d: dict) -> Obj:
        """The contact point, described both as a vCard and as the agent the shapes expect."""
        node = f"{self.base}/catalog/{d['id']}#contact-point"
        contact = d.get("contact_point") or {}
        publisher = d["publisher"]
        name = contact.get("name") or publisher["name"]
        email = contact.get("email") or publisher.get("email") or "kontakt@sundhedsdata.dk"
        url = contact.get("url") or publisher.get("homepage") or f"{self.base}/catalog/{d['id']}"
        self.add(node, RDF_TYPE, ("i", VCARD + "Kind"))
        self.add(node, VCARD + "fn", _text(name))
        self.add(node, VCARD + "hasEmail", ("i", _safe_iri(f"mailto:{email}")))
        self.add(node, VCARD + "hasURL", ("i", _safe_iri(url)))
        self.describe_agent(node, name=name, email=email, homepage=url,
                            level=publisher.get("level"))
        return ("i", node)

    def provenance(self, d: dict) -> Obj:
        node = self.bnode()
        self.add(node, RDF_TYPE, ("i", _DCT + "ProvenanceStatement"))
        self.add(node, _RDFS + "label", _text(
            f"Udgivet af {d['publisher']['name']}; data valideret mod kolonneordbogen på "
            "markedspladsen.", "da"))
        return ("i", node)

    def purposes(self, node: str, d: dict) -> None:
        use = d["data_use"]
        for term in [use["permission"], *(use.get("modifiers") or [])]:
            code = term.split(":", 1)[0]  # "TS:12": the argument stays in the label
            self.add(node, DPV + "hasPurpose", self.typed(
                self.concept(DUO + voc.DUO_IRIS[code], f"DUO {term}"), DPV + "Purpose"))

    def legal_basis(self, node: str, d: dict) -> None:
        basis = self.bnode()
        self.add(basis, RDF_TYPE, ("i", DPV + "LegalBasis"))
        self.add(basis, _RDFS + "label", _text(d["legal_basis"], "da"))
        self.add(node, DPV + "hasLegalBasis", ("i", basis))
        personal = d.get("has_personal_data")
        if personal is None:
            personal = any(c.get("role") in PERSONAL_ROLES for c in d.get("columns") or [])
        if personal:
            self.add(node, DPV + "hasPersonalData", self.typed(
                "https://w3id.org/dpv/pd#HealthRecord", DPV + "PersonalData"))

    def facts(self, node: str, d: dict) -> None:
        for field, prop in (("number_of_records", "numberOfRecords"),
                            ("number_of_unique_individuals", "numberOfUniqueIndividuals"),
                            ("min_typical_age", "minTypicalAge"),
                            ("max_typical_age", "maxTypicalAge")):
            value = d.get(field)
            if value is not None and value >= 0:
                self.add(node, HEALTH + prop, _typed(int(value), "nonNegativeInteger"))

    def temporal(self, node: str, temporal: dict | None) -> None:
        if not temporal or not (temporal.get("start") or temporal.get("end")):
            return
        period = self.bnode()
        self.add(period, RDF_TYPE, ("i", _DCT + "PeriodOfTime"))
        for field, prop in (("start", "startDate"), ("end", "endDate")):
            if temporal.get(field):
                self.add(period, _DCAT + prop, _typed(date.fromisoformat(temporal[field]),
                                                      "date"))
        self.add(node, _DCT + "temporal", ("i", period))

    def code_values(self, node: str, d: dict) -> None:
        icd10 = d.get("uses_icd10")
        if icd10 is None:
            icd10 = any(c.get("code_system") == "icd10" for c in d.get("columns") or [])
        if icd10:
            self.add(node, HEALTH + "hasCodingSystem", self.typed(ICD10, _DCT + "Standard"))
        for disease in d["data_use"].get("diseases") or []:
            code = self.concept(f"{self.base}/vocabulary/sks/{disease}", disease)
            if (code, _DCT + "identifier") not in self.described:
                self.described.add((code, _DCT + "identifier"))
                self.add(code, _DCT + "identifier", _typed(code, "anyURI"))
                self.add(code, _SKOS + "inScheme", self.typed(ICD10, _SKOS + "ConceptScheme"))
                self.add(code, _SKOS + "notation", _text(disease))
            if (ICD10, _DCT + "title") not in self.described:
                self.described.add((ICD10, _DCT + "title"))
                self.add(ICD10, _DCT + "title", _text("ICD-10 (SKS)"))
            self.add(node, HEALTH + "hasCodeValues", ("i", code))

    def distribution(self, d: dict) -> Obj:
        node = f"{self.base}/catalog/{d['id']}#distribution"
        add = self.add
        add(node, RDF_TYPE, ("i", _DCAT + "Distribution"))
        add(node, _DCAT + "accessURL", self.typed(f"{self.base}/catalog/{d['id']}",
                                                  _RDFS + "Resource"))
        add(node, DCATAP + "applicableLegislation", self.legislation())
        add(node, _DCAT + "byteSize", _typed(int(d.get("byte_size") or 0), "nonNegativeInteger"))
        add(node, _DCT + "format", self.typed(PARQUET, _DCT + "MediaTypeOrExtent"))
        add(node, _DCAT + "mediaType", self.typed(
            "http://www.iana.org/assignments/media-types/application/vnd.apache.parquet",
            _DCT + "MediaType"))
        rights = self.bnode()
        add(rights, RDF_TYPE, ("i", _DCT + "RightsStatement"))
        add(rights, _RDFS + "label", _text(
            "Udleveres kun med en dataadgangstilladelse, pseudonymiseret eller anonymiseret, "
            "og kun til det godkendte formål.", "da"))
        add(node, _DCT + "rights", ("i", rights))
        add(node, _DCT + "title", _text("Krypteret Parquet-udtræk efter tilladelse", "da"))
        return ("i", node)

    def sample(self, d: dict) -> Obj:
        node = f"{self.base}/catalog/{d['id']}#column-dictionary"
        self.add(node, RDF_TYPE, ("i", _DCAT + "Distribution"))
        self.add(node, _DCAT + "accessURL", self.typed(
            f"{self.base}/api/v1/datasets/{d['id']}", _RDFS + "Resource"))
        self.add(node, _DCT + "format", self.typed(EU + "file-type/JSON",
                                                   _DCT + "MediaTypeOrExtent"))
        self.add(node, _DCT + "description", _text(
            "Kolonneordbog og kvalitetsrapport (ingen persondata).", "da"))
        return ("i", node)


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


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'[\\"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')


def _escape(text: str) -> str:
    return _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m.group(0)) or f"\\u{ord(m.group(0)):04X}",
                             text)


def _term(value: str) -> str:
    return value if value.startswith("_:") else f"<{value}>"


def to_ntriples(triples: Iterable[Triple]) -> str:
    """Write the triples as N-Triples, which is also valid Turtle."""
    terms: dict[str, str] = {}  # subjects, predicates and IRIs repeat: render each once
    get = terms.get
    needs_escape = _NEEDS_ESCAPE.search
    lines: list[str] = []
    append = lines.append
    for subject, predicate, obj in triples:
        s = get(subject)
        if s is None:
            s = terms[subject] = _term(subject)
        p = get(predicate)
        if p is None:
            p = terms[predicate] = f"<{predicate}>"
        kind, value = obj[0], obj[1]
        if kind == "i":
            o = get(value)
            if o is None:
                o = terms[value] = _term(value)
        else:
            if needs_escape(value):
                value = _escape(value)
            if kind == "l":
                o = f'"{value}"@{obj[2]}' if obj[2] else f'"{value}"'
            else:
                o = f'"{value}"^^<{obj[2]}>'
        append(f"{s} {p} {o} .\n")
    return "".join(lines)


_JSON_ESCAPE = re.compile(r'[\\"\x00-\x1f]')


def to_jsonld(triples: Iterable[Triple]) -> str:
    """Write the triples as flattened JSON-LD with full IRIs, in one pass.

    Consecutive triples about one subject share a node object; a subject met again later gets
    another node object, which a JSON-LD processor merges (nodes are identified by @id).
    Objects repeat a lot (classes, concepts, labels, datatypes): each is encoded once.
    """
    quoted: dict[str, str] = {}
    keys: dict[str, str] = {RDF_TYPE: '"@type":['}
    types: dict[str, str] = {}
    values: dict[Obj, str] = {}

    def q(text: str) -> str:
        found = quoted.get(text)
        if found is None:
            found = quoted[text] = json.dumps(text, ensure_ascii=False) \
                if _JSON_ESCAPE.search(text) else f'"{text}"'
        return found

    def encode(obj: Obj) -> str:
        kind = obj[0]
        if kind == "i":
            value = '{"@id":' + q(obj[1]) + "}"
        elif kind == "l":
            text = json.dumps(obj[1], ensure_ascii=False) if _JSON_ESCAPE.search(obj[1]) \
                else '"' + obj[1] + '"'
            value = ('{"@value":' + text + ',"@language":"' + obj[2] + '"}' if obj[2]
                     else '{"@value":' + text + "}")
        else:
            value = '{"@value":' + q(obj[1]) + ',"@type":' + q(obj[2]) + "}"
        values[obj] = value
        return value

    nodes: list[str] = []
    current: str | None = None
    # Per property of the current node: '"property":[' and its values so far, comma-joined.
    fields: dict[str, str] = {}
    get_key, get_type, get_value = keys.get, types.get, values.get
    for subject, predicate, obj in triples:
        if subject != current:
            if current is not None:
                nodes.append(_jsonld_node(q(current), fields))
            current, fields = subject, {}
        key = get_key(predicate)
        if key is None:
            key = keys[predicate] = q(predicate) + ":["
        if predicate == RDF_TYPE:
            value = get_type(obj[1])
            if value is None:
                value = types[obj[1]] = q(obj[1])
        else:
            value = get_value(obj) or encode(obj)
        found = fields.get(key)
        fields[key] = value if found is None else found + "," + value
    if current is not None:
        nodes.append(_jsonld_node(q(current), fields))
    return '{"@graph":[\n' + ",\n".join(nodes) + "\n]}\n"


def _jsonld_node(subject: str, fields: dict[str, str]) -> str:
    return '{"@id":' + subject + "," + "],".join([key + values for key, values in fields.items()]) \
        + "]}"


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
