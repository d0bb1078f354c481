"""The test course state machine and the effect dimensions."""
import pytest

from marketplace.testbeds.lifecycle import EFFECT_DIMENSIONS, NEXT_STATUS, transition_problem

FORWARD = [("proposed", "agreed", "host"), ("proposed", "declined", "host"),
           ("agreed", "running", "company"), ("running", "completed", "host"),
           ("completed", "evaluated", "host"), ("proposed", "withdrawn", "company")]


@pytest.mark.parametrize(("current", "target", "party"), FORWARD)
def test_forward_moves_are_allowed(current, target, party):
    assert transition_problem(current, target, party=party) is None


@pytest.mark.parametrize(
    ("current", "target", "party", "kind"),
    [
        ("proposed", "agreed", "company", "party"),
        ("proposed", "declined", "company", "party"),
        ("completed", "evaluated", "company", "party"),
        ("proposed", "withdrawn", "host", "party"),
        ("agreed", "withdrawn", "company", "order"),
        ("withdrawn", "agreed", "host", "order"),
        ("agreed", "proposed", "host", "order"),
        ("evaluated", "completed", "host", "order"),
        ("proposed", "running", "host", "order"),
        ("running", "evaluated", "host", "order"),
        ("declined", "agreed", "host", "order"),
        ("evaluated", "evaluated", "host", "order"),
        ("running", "paused", "host", "unknown"),
    ],
)
def test_other_moves_are_explained(current, target, party, kind):
    problem = transition_problem(current, target, party=party)
    assert problem is not None and problem.kind == kind
    assert current in problem.message or target in problem.message


def test_every_status_leads_somewhere_or_is_final():
    assert {s for targets in NEXT_STATUS.values() for s in targets} <= NEXT_STATUS.keys()
    assert NEXT_STATUS["evaluated"] == () and NEXT_STATUS["declined"] == ()
    assert NEXT_STATUS["withdrawn"] == ()


def test_the_four_chc_effect_dimensions():
    assert list(EFFECT_DIMENSIONS) == ["treatment_errors", "prevented_admissions",
                                       "faster_return_home", "own_resources"]
    assert EFFECT_DIMENSIONS["own_resources"].better == "higher"
    assert EFFECT_DIMENSIONS["prevented_admissions"].label("en") == "Prevented admissions"
