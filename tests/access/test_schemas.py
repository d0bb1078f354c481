"""The application model: every malformed field is named, in Danish and in English."""
from __future__ import annotations

import pytest
from flask import g
from pydantic import ValidationError

from marketplace.access.schemas import Application, Cohort, ReviewIn
from marketplace.web.api import field_errors

GOOD = {"title": "KOL", "description": "Forebyggelse", "purpose": "public_research",
        "datasets": [{"id": 1, "columns": ["sex"]}], "duration_days": 365}

BAD = [
    {"title": "", "description": 5, "purpose": "", "datasets": [], "duration_days": "x",
     "pseudonymised": "maybe", "test_environment": "x", "test_course": -1},
    {"title": "t" * 300, "datasets": [{"id": 0}, "x"], "duration_days": 99999,
     "diseases": ["??"], "processors": "x"},
    {"datasets": [{"id": 1, "columns": ["a b"]}, {"id": 1, "columns": ["a", "a"]},
                  {"id": 2, "columns": []}, {"id": 3, "columns": ["c"] * 400}],
     "diseases": "DJ44", "cohort": {"age": [90, 40], "sex": ["x"], "planet": 1,
                                    "municipalities": ["1"], "period": {"start": "x",
                                                                        "end": "2020-01-01"}}},
    {"datasets": [{"id": i, "columns": ["a"]} for i in range(1, 30)],
     "diseases": ["DJ44"] * 200, "cohort": {"age": "old", "municipalities": ["1"] * 200,
                                             "period": {"start": "2021-01-01",
                                                        "end": "2020-01-01"}}},
    {"title": "Borger 010190-1234", "safeguards": "a\x00b", "test_course": 2**31,
     "datasets": [{"id": 2**40, "columns": ["sex"]}], "cohort": {"sex": "female"}},
]


@pytest.mark.parametrize("body", BAD)
def test_every_field_error_has_english_wording(app, body):
    with pytest.raises(ValidationError) as raised:
        Application.model_validate({**GOOD, **body})
    danish = [item["message"] for item in field_errors(raised.value)]
    with app.test_request_context("/"):
        g.lang = "en"
        english = [item["message"] for item in field_errors(raised.value)]
    assert danish and all(danish)
    untranslated = [da for da, en in zip(danish, english, strict=True) if da == en]
    assert untranslated == []


def test_cpr_in_text_is_refused_without_echoing_it():
    with pytest.raises(ValidationError) as raised:
        Application.model_validate({**GOOD, "title": "Borger 010190-1234 og 0101901234"})
    errors = field_errors(raised.value)
    assert errors == [{"field": "title", "message": "fjern CPR-numre fra teksten"}]
    assert "1234" not in str(errors)


def test_ids_beyond_32_bits_and_nul_bytes_are_named():
    with pytest.raises(ValidationError) as raised:
        Application.model_validate({**GOOD, "datasets": [{"id": 2**31, "columns": ["sex"]}],
                                    "description": "nul\x00byte"})
    assert {e["field"] for e in field_errors(raised.value)} == {"datasets[0].id", "description"}


def test_the_stored_cohort_keeps_only_what_was_given():
    cohort = Cohort.model_validate({"age": [40, 90], "sex": ["male", "female", "male"],
                                    "diagnoses": ["J44.9", "DJ449"], "municipalities": [101],
                                    "period": {"start": "2020-01-01", "end": "2020-12-31"}})
    assert cohort.to_dict() == {"age": [40, 90], "sex": ["female", "male"],
                                "diagnoses": ["DJ449"], "municipalities": ["101"],
                                "period": {"start": "2020-01-01", "end": "2020-12-31"}}
    assert Cohort().to_dict() == {}


def test_a_rejection_needs_a_comment_and_an_approval_does_not():
    assert ReviewIn.model_validate({"decision": "approve"}).comment == ""
    with pytest.raises(ValidationError) as raised:
        ReviewIn.model_validate({"decision": "reject"})
    assert [e["field"] for e in field_errors(raised.value)] == ["comment"]
