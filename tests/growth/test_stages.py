"""The stage-gate rules as a table: (current stage, move) → outcome."""
import pytest

from marketplace.growth.stages import (
    MoveProblem,
    decision_target,
    recommendation_problem,
    revive_problem,
)


@pytest.mark.parametrize("current, to_stage, problem", [
    ("bobler", "identifikation", None),
    ("bobler", "kvalificering", "conflict"),
    ("bobler", "eksekvering", "conflict"),
    ("kvalificering", "identifikation", None),  # recommend recycling
    ("kvalificering", "kvalificering", "conflict"),
    ("kvalificering", "parkeret", None),
    ("parkeret", "identifikation", "conflict"),
    ("stoppet", "stoppet", "conflict"),
])
def test_recommendations(current, to_stage, problem) -> None:
    result = recommendation_problem(current, to_stage)
    assert (result.kind if result else None) == problem


@pytest.mark.parametrize("current, decision, to_stage, outcome", [
    ("bobler", "go", "identifikation", "identifikation"),
    ("bobler", "go", "kvalificering", "conflict"),
    ("koncept_og_plan", "go", "identifikation", "field"),
    ("koncept_og_plan", "recycle", "identifikation", "identifikation"),
    ("koncept_og_plan", "recycle", "koncept_og_plan", "koncept_og_plan"),
    ("koncept_og_plan", "recycle", "eksekvering", "field"),
    ("identifikation", "kill", "stoppet", "stoppet"),
    ("identifikation", "kill", "kvalificering", "field"),
    ("identifikation", "hold", "parkeret", "parkeret"),
    ("identifikation", "go", "parkeret", "field"),
    ("parkeret", "go", "identifikation", "conflict"),
])
def test_decisions(current, decision, to_stage, outcome) -> None:
    result = decision_target(current, decision=decision, to_stage=to_stage)
    assert (result.kind if isinstance(result, MoveProblem) else result) == outcome


def test_revival_needs_a_paused_opportunity() -> None:
    assert revive_problem("parkeret", "kvalificering") is None
    assert revive_problem("bobler", None).kind == "conflict"
    assert revive_problem("stoppet", None).kind == "conflict"
