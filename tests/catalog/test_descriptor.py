"""Descriptor validation: every contract field is checked and errors name the field."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from marketplace.catalog.descriptor import (
    Descriptor,
    DescriptorChanges,
    merge_changes,
    normalise_icd10,
)
from marketplace.web.api import field_errors


def normalise_descriptor(data, base=None) -> dict:
    if base is None:
        return Descriptor.model_validate(data).stored()
    return merge_changes(base, DescriptorChanges.model_validate(data)).stored()


def _errors(data, base=None) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        normalise_descriptor(data, base=base)
    return field_errors(caught.value)


def _fields(data, base=None) -> set[str]:
    return {e["field"] for e in _errors(data, base)}


def test_a_complete_descriptor_is_kept(descriptor):
    clean = normalise_descriptor(descriptor)
    assert clean["title"] == "KOL-indlæggelser"
    assert clean["data_use"] == {"permission": "DS", "diseases": ["DJ44"], "modifiers": ["IRB"]}
    assert clean["columns"][0]["shareable"] is False  # direct identifiers default to not shared
    assert clean["columns"][5]["shareable"] is True


def test_defaults_fill_optional_fields():
    clean = normalise_descriptor({"title": "T", "description": "D",
                                  "health_categories": ["REGISTRY"]})
    assert clean["access_rights"] == "NON_PUBLIC"
    assert clean["consent_model"] == "opt_out"
    assert clean["themes"] == ["HEAL"] and clean["k_min"] == 5


@pytest.mark.parametrize(("change", "field"), [
    ({"data_use": {"permission": "ABC"}}, "data_use.permission"),
    ({"data_use": {"permission": "GRU", "modifiers": ["XYZ"]}}, "data_use.modifiers[0]"),
    ({"data_use": {"permission": "DS", "diseases": []}}, "data_use.diseases"),
    ({"data_use": {"permission": "DS", "diseases": ["lung"]}}, "data_use.diseases[0]"),
    ({"data_use": {"permission": "GRU", "diseases": ["DJ44"]}}, "data_use.diseases"),
    ({"temporal": {"start": "2020-02-01", "end": "2020-01-01"}}, "temporal"),
    ({"temporal": {"start": "2020-02-31"}}, "temporal.start"),
    ({"access_rights": "OPEN"}, "access_rights"),
    ({"consent_model": "maybe"}, "consent_model"),
    ({"k_min": 1}, "k_min"),
    ({"k_min": "5"}, "k_min"),
    ({"themes": ["NOPE"]}, "themes[0]"),
    ({"health_categories": []}, "health_categories"),
    ({"spatial": ["999"]}, "spatial[0]"),
    ({"contact_point": {"email": "not-an-address"}}, "contact_point.email"),
    ({"subject_column": "sex"}, "subject_column"),
    ({"subject_column": "missing"}, "subject_column"),
    ({"title": ""}, "title"),
    ({"title": "x" * 301}, "title"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_fields_are_named(descriptor, change, field):
    assert field in _fields(descriptor | change)


@pytest.mark.parametrize(("column_change", "field"), [
    ({"minimum": 10, "maximum": 5}, "columns[5].minimum"),
    ({"minimum": "ten"}, "columns[5].minimum"),
    ({"type": "blob"}, "columns[5].type"),
    ({"role": "secret"}, "columns[5].role"),
    ({"name": "1st"}, "columns[5].name"),
    ({"name": "_subject_key"}, "columns[5].name"),
    ({"pattern": "("}, "columns[5].pattern"),
    ({"generalise": {"kind": "age_band", "width": 5}}, "columns[5].generalise"),
    ({"generalise": {"kind": {}, "chars": 1}}, "columns[5].generalise"),
    ({"generalise": ["age_band"]}, "columns[5].generalise"),
    ({"identifier_kind": "cpr"}, "columns[5].identifier_kind"),
    ({"l_diversity": 3}, "columns[5].l_diversity"),
    ({"concept": "shoe_size"}, "columns[5].concept"),
    ({"secret": True}, "columns[5].secret"),
])
def test_bad_columns_are_named(descriptor, column_change, field):
    descriptor["columns"][5] = descriptor["columns"][5] | column_change
    assert field in _fields(descriptor)


def test_impossible_date_range_on_a_column(descriptor):
    descriptor["columns"][3] |= {"minimum": "2027-01-01", "maximum": "2015-01-01"}
    assert "columns[3].minimum" in _fields(descriptor)


def test_duplicate_column_names(descriptor):
    descriptor["columns"].append(dict(descriptor["columns"][5], name="DAYS"))
    assert "columns[6].name" in _fields(descriptor)


def test_patch_merges_over_the_stored_descriptor(descriptor):
    stored = normalise_descriptor(descriptor)
    clean = normalise_descriptor({"title": "Ny"}, base=stored)
    assert clean["title"] == "Ny" and clean["columns"] == stored["columns"]


def test_html_is_kept_as_text_for_escaping_at_output(descriptor):
    clean = normalise_descriptor(descriptor | {"title": "<img src=x onerror=alert(1)>"})
    assert clean["title"] == "<img src=x onerror=alert(1)>"


def test_icd10_codes_take_the_sks_form():
    assert normalise_icd10("J44.1") == "DJ441"
    assert normalise_icd10("dj44") == "DJ44"
    assert normalise_icd10("D50") == "DD50"
    assert normalise_icd10("lungs") is None


def test_date_shift_with_a_bound_is_kept(descriptor):
    descriptor["columns"][3] |= {"generalise": {"kind": "date", "to": "shift", "max_days": 90}}
    descriptor["columns"][1]["generalise"] = {"kind": "date", "to": "shift"}
    clean = normalise_descriptor(descriptor)
    assert clean["columns"][3]["generalise"] == {"kind": "date", "to": "shift", "max_days": 90}
    assert clean["columns"][1]["generalise"] == {"kind": "date", "to": "shift"}


@pytest.mark.parametrize("rule", [
    {"kind": "date", "to": "shift", "max_days": 0},
    {"kind": "date", "to": "shift", "max_days": 366},
    {"kind": "date", "to": "shift", "max_days": "30"},
    {"kind": "date", "to": "month", "max_days": 30},
])
def test_bad_date_shift_bounds_are_named(descriptor, rule):
    descriptor["columns"][3] |= {"generalise": rule}
    assert "columns[3].generalise.max_days" in _fields(descriptor)


def test_duo_modifier_arguments_are_normalised(descriptor):
    descriptor["data_use"] = {"permission": "GRU", "modifiers": [
        "TS(12)", "GS:eu, dk", "IS:Herlev-Hospital,rigshospitalet", "US:company-pulmo",
        "PS:copd-2026", "MOR:2027-06-01", "IRB", "NCU:"]}
    clean = normalise_descriptor(descriptor)
    assert clean["data_use"]["modifiers"] == [
        "TS:12", "GS:EU,DK", "IS:herlev-hospital,rigshospitalet", "US:company-pulmo",
        "PS:copd-2026", "MOR:2027-06-01", "IRB", "NCU"]


def test_the_access_engine_reads_the_stored_arguments(descriptor):
    from marketplace.access.decisions import parse_data_use
    descriptor["data_use"] = {"permission": "GRU", "modifiers": [
        "TS(24)", "GS:nordic", "IS:herlev-hospital;rigshospitalet", "MOR:2027-06-01"]}
    use = parse_data_use(normalise_descriptor(descriptor)["data_use"])
    assert use.modifiers == {"TS", "GS", "IS", "MOR"}
    assert use.ts_months() == 24
    assert use.countries() == {"DK", "SE", "NO", "FI", "IS"}
    assert use.institutions() == {"herlev-hospital", "rigshospitalet"}
    assert use.arguments["MOR"] == "2027-06-01"


@pytest.mark.parametrize("modifier", [
    "TS:0", "TS:twelve", "TS:-3", "TS:1201", "GS:Europe", "GS:D1", "IS:<script>",
    "IS:herlev hospital!", "US:a/b", "PS:-x", "MOR:2027-02-30", "MOR:01-06-2027",
    "NCU:3", "PUB(yes)", "XYZ:1", "TS:12 TS:13", "TS:(12",
])
def test_bad_duo_modifier_arguments_are_named(descriptor, modifier):
    descriptor["data_use"] = {"permission": "GRU", "modifiers": ["IRB", modifier]}
    assert [e["field"] for e in _errors(descriptor)] == ["data_use.modifiers[1]"]


def test_a_modifier_given_twice_is_named(descriptor):
    descriptor["data_use"] = {"permission": "GRU", "modifiers": ["TS:12", "TS:24"]}
    assert _fields(descriptor) == {"data_use.modifiers[1]"}


def test_offered_purposes_come_from_the_taxonomy(descriptor):
    descriptor["data_use"] |= {"purposes": ["public_research", "education", "public_research"]}
    assert normalise_descriptor(descriptor)["data_use"]["purposes"] == [
        "public_research", "education"]
    descriptor["data_use"]["purposes"] = ["public_research", "advertising_marketing", "fun"]
    assert _fields(descriptor) == {"data_use.purposes[1]", "data_use.purposes[2]"}
    descriptor["data_use"]["purposes"] = "public_research"
    assert _fields(descriptor) == {"data_use.purposes"}


def test_a_cpr_column_must_be_named_as_the_subject(descriptor):
    descriptor["subject_column"] = None
    assert "subject_column" in _fields(descriptor)


def test_messages_are_danish_and_name_the_field(descriptor):
    errors = _errors(descriptor | {"k_min": 1, "data_use": {"permission": "DS"}})
    assert {"field": "k_min", "message": "skal være mindst 2"} in errors
    assert {"field": "data_use.diseases",
            "message": "DS (sygdomsspecifik) kræver mindst én sygdom"} in errors


@pytest.mark.parametrize(("change", "field"), [
    ({"title": "KOL\x00"}, "title"),
    ({"description": "bad \ud800 text"}, "description"),
    ({"title": "Patient 0703851234"}, "title"),
    ({"keywords": ["x"] * 51}, "keywords"),
    ({"columns": [{"name": f"c{i}", "type": "string"} for i in range(201)]}, "columns"),
    ({"k_min": 2**31}, "k_min"),
    ({"k_min": True}, "k_min"),
    ({"temporal": {"start": 20200101}}, "temporal.start"),
    ({"spatial": "1084"}, "spatial"),
    ({"contact_point": ["a"]}, "contact_point"),
])
def test_hostile_values_are_refused_with_the_field_named(descriptor, change, field):
    assert field in _fields(descriptor | change)


def test_a_patch_is_validated_with_the_stored_fields(descriptor):
    stored = normalise_descriptor(descriptor)
    assert _fields({"subject_column": "sex"}, base=stored) == {"subject_column"}
    assert normalise_descriptor({"status": "published", "title": "Ny"}, base=stored)[
        "title"] == "Ny"
