"""Every field error of an application has a Danish wording for the Danish form."""
from __future__ import annotations

import pytest

from marketplace.access.applications import parse_application
from marketplace.access.messages import danish
from marketplace.errors import Invalid

BAD = [
    {"title": "", "description": 5, "purpose": "", "datasets": [], "duration_days": "x",
     "pseudonymised": "yes", "test_environment": "x", "test_course": -1},
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
]


@pytest.mark.parametrize("body", BAD)
def test_every_field_error_has_danish_wording(body):
    with pytest.raises(Invalid) as raised:
        parse_application(body)
    untranslated = [e["message"] for e in raised.value.errors
                    if danish(e["message"]) == e["message"] and not e["message"].startswith(
                        "expected {")]
    assert untranslated == []


def test_unknown_message_stays_as_it_is():
    assert danish("something new") == "something new"
    assert danish("no test course 7") == "intet testforløb med nummer 7"
