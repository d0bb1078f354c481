"""The HealthDCAT-AP export of the demo catalog conforms to the DCAT-AP 3 and HealthDCAT-AP
shapes for each dataset's access rights."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, SH

from marketplace.catalog import dcat

SHARED = Path(os.environ.get("MARKETPLACE_STANDARDS_DIR")
              or Path(__file__).resolve().parents[2] / ".." / "shared" / "standards")
SHAPES_BY_ACCESS = {"PUBLIC": "opendata", "RESTRICTED": "protected", "NON_PUBLIC": "sensitive"}
EU_ACCESS = "http://publications.europa.eu/resource/authority/access-right/"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(),
                                reason=f"the standards folder {SHARED} is not checked out")


def _shapes(access_rights: str) -> Graph:
    shapes = Graph()
    shapes.parse(SHARED / "dcat-ap" / "dcat-ap-3.0.0-SHACL.ttl")
    name = SHAPES_BY_ACCESS[access_rights]
    shapes.parse(SHARED / "healthdcat-ap" / f"HealthDCAT-AP_{name}-shapes.ttl")
    shapes.parse(SHARED / "healthdcat-ap" / "HealthDCAT-AP_ranges.ttl")
    return shapes


def _violations(data: Graph, shapes: Graph) -> list[str]:
    import pyshacl

    _conforms, results, _text = pyshacl.validate(data, shacl_graph=shapes, inference="none",
                                                 allow_warnings=True)
    return [f"{results.value(r, SH.focusNode)} {results.value(r, SH.resultPath)}: "
            f"{results.value(r, SH.resultMessage)}"
            for r in results.subjects(SH.resultSeverity, SH.Violation)]


def test_demo_catalog_has_zero_violations(client, demo_world):
    graph = Graph().parse(data=client.get("/catalog.ttl").get_data(as_text=True),
                          format="turtle")
    datasets = list(graph.subjects(RDF.type, DCAT.Dataset))
    rights = {str(graph.value(d, DCTERMS.accessRights)).removeprefix(EU_ACCESS)
              for d in datasets}
    assert len(datasets) == 7 and rights == {"PUBLIC", "RESTRICTED", "NON_PUBLIC"}
    dpv, health = "https://w3id.org/dpv#", "http://healthdataportal.eu/ns/health#"
    # Six demo datasets hold personal data with ICD-10 diagnoses; the seventh is aggregated.
    assert len(set(graph.subjects(URIRef(dpv + "hasPersonalData")))) == 6
    assert len(set(graph.subjects(URIRef(health + "hasCodingSystem")))) == 6
    for access_rights in sorted(rights):
        # Every dataset carries what the strictest shapes ask, so each set of shapes can judge
        # the whole catalog; the datasets of this access level are certainly among them.
        assert _violations(graph, _shapes(access_rights)) == [], access_rights


def test_json_ld_export_is_the_same_catalog(client, demo_world):
    turtle = Graph().parse(data=client.get("/catalog.ttl").get_data(as_text=True),
                           format="turtle")
    jsonld = Graph().parse(data=client.get("/catalog.jsonld").get_data(as_text=True),
                           format="json-ld")
    assert len(turtle) == len(jsonld)
    assert set(turtle.subjects(RDF.type, DCAT.Dataset)) == set(
        jsonld.subjects(RDF.type, DCAT.Dataset))


def test_a_minimal_descriptor_still_conforms():
    descriptor = {
        "id": 9, "title": "<b>Minimal</b>", "description": "x", "keywords": [],
        "themes": ["HEAL"], "health_categories": ["REGISTRY"], "access_rights": "NON_PUBLIC",
        "legal_basis": "GDPR", "data_use": {"permission": "GRU", "diseases": [],
                                            "modifiers": []},
        "publisher": {"slug": "x", "name": "X", "level": "municipal"}, "columns": [],
    }
    graph = dcat.build_graph([descriptor], base_url="https://example.org", title="Katalog")
    assert _violations(graph, _shapes("NON_PUBLIC")) == []
    titles = list(graph.objects(URIRef("https://example.org/catalog/9"), DCTERMS.title))
    assert [str(t) for t in titles] == ["<b>Minimal</b>"]


def test_hostile_text_comes_out_unchanged_in_both_formats():
    from rdflib import Literal
    from rdflib.compare import isomorphic

    title = 'Citat " og \\ skråstreg\nny linje\ttab \x01\x08\x0c\x7f 🙂 æøå <b>'
    descriptor = {
        "id": 3, "title": title, "description": "x", "keywords": ["a\"b"],
        "themes": ["HEAL"], "health_categories": ["REGISTRY"], "access_rights": "PUBLIC",
        "legal_basis": "GDPR", "data_use": {"permission": "DS", "diseases": ['DJ44 "x"'],
                                            "modifiers": ["TS:12"]},
        "contact_point": {"name": None, "email": "a@b.dk", "url": 'https://x.example/a b"c'},
        "publisher": {"slug": "x", "name": "X", "level": "municipal"}, "columns": [],
        "temporal": {"start": "2020-01-01", "end": None}, "spatial": ["Region <H>"],
    }
    turtle, jsonld = (dcat.export([descriptor], base_url="https://example.org", title="K",
                                  fmt=fmt) for fmt in ("ttl", "jsonld"))
    from_turtle = Graph().parse(data=turtle, format="turtle")
    from_jsonld = Graph().parse(data=jsonld, format="json-ld")
    assert isomorphic(from_turtle, from_jsonld)
    dataset = URIRef("https://example.org/catalog/3")
    assert Literal(title, lang="da") in set(from_turtle.objects(dataset, DCTERMS.title))
    assert URIRef("https://x.example/a%20b%22c") in set(from_turtle.subjects())
    assert URIRef("https://example.org/vocabulary/sks/DJ44%20%22x%22") in set(
        from_turtle.subjects())
    assert URIRef("https://example.org/vocabulary/area/Region%20%3CH%3E") in set(
        from_turtle.objects(dataset, DCTERMS.spatial))


def _descriptor(dataset_id: int, **changes) -> dict:
    descriptor = {
        "id": dataset_id, "title": f"Register {dataset_id}", "description": "Beskrivelse",
        "keywords": ["KOL", "lungesygdom"], "themes": ["HEAL", "JUST"],
        "health_categories": ["REGISTRY"], "access_rights": "RESTRICTED",
        "legal_basis": "GDPR art. 9(2)(j)",
        "data_use": {"permission": "DS", "diseases": ["DJ44"], "modifiers": ["TS:12"]},
        "publisher": {"slug": "region-h", "name": "Region H", "level": "regional",
                      "homepage": "https://regionh.example", "email": "data@regionh.example"},
        "columns": [], "number_of_records": 1200, "byte_size": 4096,
    }
    return descriptor | changes


def test_a_resource_is_written_once_however_many_datasets_share_it():
    """What datasets state alike (publisher, concepts, contact points, blank nodes' labels)
    is made once and repeated: every triple is written once, each resource's statements are
    one node object holding each property once, and both formats carry the same graph."""
    import json

    from rdflib.compare import isomorphic

    no_homepage = {"slug": "x", "name": "X", "level": "municipal"}
    descriptors = [
        _descriptor(1),
        _descriptor(2, title_en="Register two", description_en="Description",
                    spatial=["DK", "area-1"], temporal={"start": "2020-01-01",
                                                        "end": "2021-12-31"}),
        _descriptor(3, contact_point={"name": "Datateam", "email": "team@regionh.example",
                                      "url": "https://regionh.example/team"},
                    access_rights="PUBLIC", keywords=["KOL"]),
        _descriptor(4, publisher=no_homepage, data_use={"permission": "GRU"}),
        _descriptor(5, publisher=no_homepage, legal_basis="Sundhedsloven § 46"),
    ]
    turtle, jsonld = (dcat.export(descriptors, base_url="https://example.org", title="K",
                                  fmt=fmt) for fmt in ("ttl", "jsonld"))
    lines = turtle.splitlines()
    from_turtle = Graph().parse(data=turtle, format="turtle")
    assert len(lines) == len(set(lines)) == len(from_turtle)

    def unique_keys(pairs: list) -> dict:
        keys = [key for key, _value in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    nodes = json.loads(jsonld, object_pairs_hook=unique_keys)["@graph"]
    assert len({node["@id"] for node in nodes}) == len(nodes)
    for node in nodes:
        for key, values in node.items():
            if key != "@id":
                assert len({json.dumps(v, sort_keys=True) for v in values}) == len(values)
    assert isomorphic(from_turtle, Graph().parse(data=jsonld, format="json-ld"))
    for shapes in ("PUBLIC", "RESTRICTED"):
        assert _violations(from_turtle, _shapes(shapes)) == [], shapes


def test_stored_json_decoded_at_once_reads_as_each_cell_alone():
    import json

    from marketplace.catalog import services

    cells = ['["KOL", "hjerte"]', None, {"already": "decoded"}, "null", '{"a": [1, {"b": 2}]}']
    assert services._decode_json_cells(cells) == [
        json.loads(c) if isinstance(c, str) else c for c in cells]
    with pytest.raises(json.JSONDecodeError):  # one cell holding two values is no JSON value
        services._decode_json_cells(['["KOL"]', '1, 2'])
