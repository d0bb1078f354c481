"""HealthDCAT-AP (DCAT-AP 3) export of published descriptors (pure: dicts in, rdflib Graph out).

The graph is built from the HealthDCAT-AP shapes rather than from its example template: every
mandatory property of a non-public health dataset is present for every dataset, whatever its
access rights, so one export satisfies the opendata, protected and sensitive shapes alike.
"""
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from marketplace.catalog import vocabulary as voc

DCATAP = Namespace("http://data.europa.eu/r5r/")
HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
DPV = Namespace("https://w3id.org/dpv#")
DQV = Namespace("http://www.w3.org/ns/dqv#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
EU = "http://publications.europa.eu/resource/authority/"
EHDS = URIRef("http://data.europa.eu/eli/reg/2025/327/oj")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
DANISH = URIRef(EU + "language/DAN")
ENGLISH = URIRef(EU + "language/ENG")
DENMARK = URIRef(EU + "country/DNK")
PARQUET = URIRef(EU + "file-type/PARQUET")
CSV = URIRef(EU + "file-type/CSV")
DUO = "http://purl.obolibrary.org/obo/"
ICD10 = "https://www.wikidata.org/wiki/Q45127"
PUBLISHER_TYPES = {
    "national": ("NationalAuthority", "Nationale myndighed", "National authority"),
    "regional": ("RegionalAuthority", "Regional myndighed", "Regional authority"),
    "municipal": ("LocalAuthority", "Kommunal myndighed", "Local authority"),
}
HDAB = {"name": "Sundhedsdatastyrelsen (sundhedsdataadgangsorgan)",
        "homepage": "https://sundhedsdatastyrelsen.dk", "email": "kontakt@sundhedsdata.dk"}


def build_graph(descriptors: Iterable[dict], *, base_url: str, title: str,
                modified: datetime | None = None) -> Graph:
    """Return the catalog of `descriptors` (published datasets, as served by the API)."""
    base_url = base_url.rstrip("/")
    graph = Graph()
    for prefix, namespace in (("dcat", DCAT), ("dct", DCTERMS), ("dcatap", DCATAP),
                              ("healthdcatap", HEALTH), ("dpv", DPV), ("dqv", DQV),
                              ("vcard", VCARD), ("adms", ADMS), ("foaf", FOAF),
                              ("skos", SKOS)):
        graph.bind(prefix, namespace)
    builder = _Builder(graph, base_url)
    catalog = URIRef(f"{base_url}/catalog")
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCTERMS.title, Literal(title, lang="da")))
    graph.add((catalog, DCTERMS.description, Literal(
        "Sundhedsdata fra nationale, regionale og kommunale dataejere i Region Hovedstaden.",
        lang="da")))
    graph.add((catalog, DCTERMS.description, Literal(
        "Health data from national, regional and municipal data holders in the Capital Region "
        "of Denmark.", lang="en")))
    graph.add((catalog, FOAF.homepage, builder.typed(f"{base_url}/catalog", FOAF.Document)))
    graph.add((catalog, DCATAP.applicableLegislation, builder.legislation()))
    graph.add((catalog, DCTERMS.language, builder.typed(DANISH, DCTERMS.LinguisticSystem)))
    graph.add((catalog, DCTERMS.spatial, builder.typed(DENMARK, DCTERMS.Location)))
    graph.add((catalog, DCTERMS.modified, Literal(
        (modified or datetime.now(UTC)).replace(microsecond=0), datatype=XSD.dateTime)))
    graph.add((catalog, DCTERMS.publisher, builder.agent(HDAB, level="national",
                                                           key="hdab")))
    for descriptor in descriptors:
        graph.add((catalog, DCAT.dataset, builder.dataset(descriptor)))
    graph.addN(builder.triples)
    return graph


class _Builder:
    def __init__(self, graph: Graph, base_url: str) -> None:
        self.graph = graph
        self.base = base_url
        self.described: set[tuple[URIRef, URIRef]] = set()
        # Collected and added in one addN call: several times faster than one add per triple.
        self.triples: list[tuple] = []

    def add(self, subject, predicate, obj) -> None:
        self.triples.append((subject, predicate, obj, self.graph))

    def typed(self, iri: URIRef | str, *classes: URIRef) -> URIRef:
        """Declare the classes the shapes expect of a referenced resource."""
        node = URIRef(iri)
        for cls in classes:
            if (node, cls) not in self.described:
                self.described.add((node, cls))
                self.add(node, RDF.type, cls)
        return node

    def concept(self, iri: str, label_da: str, label_en: str | None = None) -> URIRef:
        node = URIRef(iri)
        if (node, SKOS.Concept) in self.described:
            return node
        self.described.add((node, SKOS.Concept))
        self.add(node, RDF.type, SKOS.Concept)
        self.add(node, SKOS.prefLabel, Literal(label_da, lang="da"))
        if label_en:
            self.add(node, SKOS.prefLabel, Literal(label_en, lang="en"))
        return node

    def agent(self, org: dict, *, level: str | None, key: str) -> URIRef:
        node = URIRef(f"{self.base}/organisations/{key}")
        if (node, FOAF.Agent) in self.described:
            return node
        homepage = org.get("homepage") or f"{self.base}/catalog?publisher={key}"
        self.describe_agent(node, name=org["name"], email=org.get("email")
                            or "kontakt@sundhedsdata.dk", homepage=homepage, level=level)
        return node

    def describe_agent(self, node: URIRef, *, name: str, email: str, homepage: str,
                       level: str | None) -> None:
        self.described.add((node, FOAF.Agent))
        self.add(node, RDF.type, FOAF.Agent)
        self.add(node, FOAF.name, Literal(name))
        kind, label_da, label_en = PUBLISHER_TYPES.get(level or "", PUBLISHER_TYPES["national"])
        publisher_type = self.concept(f"http://purl.org/adms/publishertype/{kind}", label_da,
                                      label_en)
        self.add(node, DCTERMS.type, publisher_type)
        self.add(node, HEALTH.publisherType, publisher_type)
        self.add(node, HEALTH.publisherNote, Literal(
            f"{label_da} og dataejer på markedspladsen for sundhedsdata.", lang="da"))
        self.add(node, HEALTH.trustedDataHolder, Literal(True))
        self.add(node, FOAF.homepage, self.typed(homepage, FOAF.Document))
        self.add(node, FOAF.mbox, URIRef(f"mailto:{email}"))

    def dataset(self, d: dict) -> URIRef:
        node = URIRef(f"{self.base}/catalog/{d['id']}")
        add = lambda p, o: self.add(node, p, o)  # noqa: E731
        add(RDF.type, DCAT.Dataset)
        add(DCTERMS.identifier, Literal(f"{self.base}/api/v1/datasets/{d['id']}",
                                        datatype=XSD.anyURI))
        add(DCTERMS.title, Literal(d["title"], lang="da"))
        add(DCTERMS.description, Literal(d["description"], lang="da"))
        if d.get("title_en"):
            add(DCTERMS.title, Literal(d["title_en"], lang="en"))
        if d.get("description_en"):
            add(DCTERMS.description, Literal(d["description_en"], lang="en"))
        for keyword in d.get("keywords") or [d["title"]]:
            add(DCAT.keyword, Literal(keyword, lang="da"))
        rights = d["access_rights"]
        add(DCTERMS.accessRights, self.typed(
            self.concept(EU + f"access-right/{rights}", *voc.ACCESS_RIGHTS_LABELS[rights]),
            DCTERMS.RightsStatement))
        add(DCATAP.applicableLegislation, self.legislation())
        for theme in d["themes"]:
            add(DCAT.theme, self.concept(EU + f"data-theme/{theme}", *voc.THEMES[theme]))
        for category in d["health_categories"]:
            add(HEALTH.healthCategory, self.concept(
                f"{self.base}/vocabulary/health-category/{category}",
                *voc.HEALTH_CATEGORIES[category]))
        for keyword in d.get("keywords") or [d["title"]]:
            add(HEALTH.healthTheme, self.concept(
                f"{self.base}/vocabulary/health-theme/{_slug(keyword)}", keyword))
        add(DCTERMS.type, self.concept(f"{self.base}/vocabulary/dataset-type/health-data",
                                       "Sundhedsdata", "Health data"))
        publisher = d["publisher"]
        add(DCTERMS.publisher, self.agent(publisher, level=publisher.get("level"),
                                          key=publisher["slug"]))
        add(HEALTH.hdab, self.agent(HDAB, level="national", key="hdab"))
        add(DCAT.contactPoint, self.contact_point(d))
        add(DCTERMS.provenance, self.provenance(d))
        add(DCTERMS.language, self.typed(DANISH, DCTERMS.LinguisticSystem))
        for code in d.get("spatial") or ["DK"]:
            add(DCTERMS.spatial, self.typed(DENMARK if code == "DK" else
                                            f"{self.base}/vocabulary/area/{code}",
                                            DCTERMS.Location))
        self.purposes(node, d)
        self.legal_basis(node, d)
        self.facts(node, d)
        self.temporal(node, d.get("temporal"))
        self.code_values(node, d)
        add(DCAT.distribution, self.distribution(d))
        add(ADMS.sample, self.sample(d))
        add(DCAT.landingPage, self.typed(f"{self.base}/catalog/{d['id']}", FOAF.Document))
        return node

    def legislation(self) -> URIRef:
        return self.typed(EHDS, ELI.LegalResource)

    def contact_point(self, d: dict) -> URIRef:
        """The contact point, described both as a vCard and as the agent the shapes expect."""
        node = URIRef(f"{self.base}/catalog/{d['id']}#contact-point")
        contact = d.get("contact_point") or {}
        publisher = d["publisher"]
        name = contact.get("name") or publisher["name"]
        email = contact.get("email") or publisher.get("email") or "kontakt@sundhedsdata.dk"
        url = contact.get("url") or publisher.get("homepage") or f"{self.base}/catalog/{d['id']}"
        self.add(node, RDF.type, VCARD.Kind)
        self.add(node, VCARD.fn, Literal(name))
        self.add(node, VCARD.hasEmail, URIRef(f"mailto:{email}"))
        self.add(node, VCARD.hasURL, URIRef(url))
        self.describe_agent(node, name=name, email=email, homepage=url,
                            level=publisher.get("level"))
        return node

    def provenance(self, d: dict) -> BNode:
        node = BNode()
        self.add(node, RDF.type, DCTERMS.ProvenanceStatement)
        self.add(node, RDFS.label, Literal(
            f"Udgivet af {d['publisher']['name']}; data valideret mod kolonneordbogen på "
            "markedspladsen.", lang="da"))
        return node

    def purposes(self, node: URIRef, d: dict) -> None:
        use = d["data_use"]
        permission = use["permission"]
        for term in [permission, *(use.get("modifiers") or [])]:
            code = term.split(":", 1)[0]  # "TS:12": the argument stays in the label
            self.add(node, DPV.hasPurpose, self.typed(
                self.concept(DUO + voc.DUO_IRIS[code], f"DUO {term}"), DPV.Purpose))

    def legal_basis(self, node: URIRef, d: dict) -> None:
        basis = BNode()
        self.add(basis, RDF.type, DPV.LegalBasis)
        self.add(basis, RDFS.label, Literal(d["legal_basis"], lang="da"))
        self.add(node, DPV.hasLegalBasis, basis)
        if any(c.get("role") in ("direct_identifier", "quasi_identifier", "sensitive")
               for c in d.get("columns") or []):
            self.add(node, DPV.hasPersonalData, self.typed(
                "https://w3id.org/dpv/pd#HealthRecord", DPV.PersonalData))

    def facts(self, node: URIRef, d: dict) -> None:
        for field, prop in (("number_of_records", HEALTH.numberOfRecords),
                            ("number_of_unique_individuals", HEALTH.numberOfUniqueIndividuals),
                            ("min_typical_age", HEALTH.minTypicalAge),
                            ("max_typical_age", HEALTH.maxTypicalAge)):
            value = d.get(field)
            if value is not None and value >= 0:
                self.add(node, prop, Literal(int(value), datatype=XSD.nonNegativeInteger))

    def temporal(self, node: URIRef, temporal: dict | None) -> None:
        if not temporal or not (temporal.get("start") or temporal.get("end")):
            return
        period = BNode()
        self.add(period, RDF.type, DCTERMS.PeriodOfTime)
        for field, prop in (("start", DCAT.startDate), ("end", DCAT.endDate)):
            if temporal.get(field):
                self.add(period, prop, Literal(date.fromisoformat(temporal[field]),
                                               datatype=XSD.date))
        self.add(node, DCTERMS.temporal, period)

    def code_values(self, node: URIRef, d: dict) -> None:
        if any(c.get("code_system") == "icd10" for c in d.get("columns") or []):
            self.add(node, HEALTH.hasCodingSystem, self.typed(ICD10, DCTERMS.Standard))
        for disease in d["data_use"].get("diseases") or []:
            code = self.concept(f"{self.base}/vocabulary/sks/{disease}", disease)
            self.add(code, DCTERMS.identifier, Literal(str(code), datatype=XSD.anyURI))
            self.add(code, SKOS.inScheme, self.typed(ICD10, SKOS.ConceptScheme))
            self.add(URIRef(ICD10), DCTERMS.title, Literal("ICD-10 (SKS)"))
            self.add(code, SKOS.notation, Literal(disease))
            self.add(node, HEALTH.hasCodeValues, code)

    def distribution(self, d: dict) -> URIRef:
        node = URIRef(f"{self.base}/catalog/{d['id']}#distribution")
        self.add(node, RDF.type, DCAT.Distribution)
        self.add(node, DCAT.accessURL, self.typed(f"{self.base}/catalog/{d['id']}",
                                                  RDFS.Resource))
        self.add(node, DCATAP.applicableLegislation, self.legislation())
        self.add(node, DCAT.byteSize, Literal(int(d.get("byte_size") or 0),
                                              datatype=XSD.nonNegativeInteger))
        self.add(node, DCTERMS["format"], self.typed(PARQUET, DCTERMS.MediaTypeOrExtent))
        self.add(node, DCAT.mediaType, self.typed(
            "http://www.iana.org/assignments/media-types/application/vnd.apache.parquet",
            DCTERMS.MediaType))
        rights = BNode()
        self.add(rights, RDF.type, DCTERMS.RightsStatement)
        self.add(rights, RDFS.label, Literal(
            "Udleveres kun med en dataadgangstilladelse, pseudonymiseret eller anonymiseret, "
            "og kun til det godkendte formål.", lang="da"))
        self.add(node, DCTERMS.rights, rights)
        self.add(node, DCTERMS.title, Literal("Krypteret Parquet-udtræk efter tilladelse",
                                              lang="da"))
        return node

    def sample(self, d: dict) -> URIRef:
        node = URIRef(f"{self.base}/catalog/{d['id']}#column-dictionary")
        self.add(node, RDF.type, DCAT.Distribution)
        self.add(node, DCAT.accessURL, self.typed(f"{self.base}/api/v1/datasets/{d['id']}",
                                                  RDFS.Resource))
        self.add(node, DCTERMS["format"], self.typed(EU + "file-type/JSON",
                                                     DCTERMS.MediaTypeOrExtent))
        self.add(node, DCTERMS.description, Literal(
            "Kolonneordbog og kvalitetsrapport (ingen persondata).", lang="da"))
        return node


def _slug(text: str) -> str:
    text = text.lower().replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "emne"


PRETTY_TURTLE_LIMIT = 20_000


def serialise(graph: Graph, *, fmt: str) -> str:
    """Return the graph as Turtle ("ttl") or JSON-LD ("jsonld").

    Large graphs are written as N-Triples, which is valid Turtle: rdflib's pretty Turtle writer
    takes minutes on a catalog of thousands of datasets, the line writer seconds.
    """
    if fmt == "jsonld":
        return graph.serialize(format="json-ld")
    return graph.serialize(format="turtle" if len(graph) <= PRETTY_TURTLE_LIMIT else "nt")
