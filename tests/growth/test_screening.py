"""The screening model is data checked at start-up, and scores are checked against it."""
import json
from pathlib import Path

import pytest

from marketplace import create_app
from marketplace.growth.screening import ScreeningModelError, load_model, parse_model, score
from tests.conftest import base_config

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture
def model():
    return load_model(POLICIES)


def test_shipped_model_has_the_grant_criteria(model) -> None:
    assert [c.key for c in model.must_meet] == ["public_need_owner", "lawful_purpose",
                                                "regulatory_path", "data_protection"]
    keys = {c.key for c in model.should_meet}
    assert {"treatment_errors", "prevented_admissions", "faster_return_home", "own_resources",
            "need_volume", "market_export", "growth_jobs", "company_readiness",
            "evidence_strength"} == keys
    assert model.criterion("company_readiness").high == 9


@pytest.mark.parametrize("change, fault", [
    (lambda d: d.pop("version"), "version"),
    (lambda d: d["should_meet"][0].update(weight=-1), "weight"),
    (lambda d: d["should_meet"][0].update(scale={"min": 5, "max": 1}), "scale"),
    (lambda d: d["must_meet"].append(dict(d["must_meet"][0])), "unique"),
    (lambda d: d["gates"].update(bobler=["steering_group"]), "bobler"),
    (lambda d: d["gates"].update(eksekvering=["company_member"]), "roles"),
])
def test_a_broken_model_is_refused(change, fault) -> None:
    data = json.loads((POLICIES / "screening-model.json").read_text())
    change(data)
    with pytest.raises(ScreeningModelError, match=fault):
        parse_model(data)


def test_a_broken_model_stops_start_up(tmp_path, monkeypatch) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    for path in POLICIES.iterdir():
        if path.is_file():
            (policies / path.name).write_bytes(path.read_bytes())
    (policies / "screening-model.json").write_text('{"version": "x", "must_meet": []}')
    monkeypatch.setenv("MARKETPLACE_INSTANCE_PATH", str(tmp_path / "instance"))
    with pytest.raises(ScreeningModelError):
        create_app(base_config(tmp_path, f"sqlite:///{tmp_path}/x.db", POLICIES_DIR=policies))


def test_weighted_total_and_knock_out(model) -> None:
    card = score(model, scores={"treatment_errors": 5, "need_volume": 0},
                 must_meet={"public_need_owner": False}, reasons={"need_volume": "ét sted"},
                 to_stage="identifikation")
    assert card.errors == ()
    assert card.total == pytest.approx(100 * 10 / 25, abs=0.1)
    assert card.knocked_out
    assert card.scores["need_volume"] == {"value": 0, "weight": 15.0, "scale": [0, 5],
                                          "reason": "ét sted"}
    assert card.model_version == model.version


@pytest.mark.parametrize("scores, field", [
    ({"treatment_errors": 6}, "scores.treatment_errors"),
    ({"company_readiness": 0}, "scores.company_readiness"),
    ({"treatment_errors": 2.5}, "scores.treatment_errors"),
    ({"treatment_errors": True}, "scores.treatment_errors"),
    ({"unknown": 1}, "scores.unknown"),
])
def test_scores_off_the_scale_are_named(model, scores, field) -> None:
    card = score(model, scores=scores, must_meet={}, reasons={}, to_stage="identifikation")
    assert [error[0] for error in card.errors] == [field]


def test_must_meet_answers_are_required_from_kvalificering(model) -> None:
    card = score(model, scores={}, must_meet={"lawful_purpose": True}, reasons={},
                 to_stage="kvalificering")
    assert {error[0] for error in card.errors} == {
        "must_meet.public_need_owner", "must_meet.regulatory_path", "must_meet.data_protection"}
