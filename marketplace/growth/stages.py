"""The stage-gate rules: which moves a recommendation or decision may make (pure).

Stages run bobler → identifikation → kvalificering → koncept_og_plan → eksekvering. A gate moves
an opportunity one stage on (go), back to an earlier stage (recycle), to parkeret (hold) or to
stoppet (kill); skipping a stage is refused. Parked and stopped ones are revived with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.growth.models import SIDE_STATES, STAGES
from marketplace.languages import N_, translate

STAGE_LABELS = {
    "bobler": N_("Bobler"),
    "identifikation": N_("Identifikation"),
    "kvalificering": N_("Kvalificering"),
    "koncept_og_plan": N_("Koncept og plan"),
    "eksekvering": N_("Eksekvering"),
    "parkeret": N_("Parkeret"),
    "stoppet": N_("Stoppet"),
}
DECISION_LABELS = {
    "go": N_("Go"),
    "kill": N_("Stop"),
    "hold": N_("Parkér"),
    "recycle": N_("Tilbage til en tidligere fase"),
    "revive": N_("Genoptaget"),
}
DECISION_TARGET = {"kill": "stoppet", "hold": "parkeret"}


def stage_label(stage: str, lang: str) -> str:
    return translate(STAGE_LABELS.get(stage, stage), lang)


def decision_label(decision: str, lang: str) -> str:
    return translate(DECISION_LABELS.get(decision, decision), lang)


@dataclass(frozen=True)
class MoveProblem:
    """Why a move is refused: "conflict" (the state does not allow it, 409) or "field" (422)."""

    kind: str
    message: str  # Danish source text; `values` fill its {names}
    values: dict[str, str]


def _index(stage: str) -> int:
    return STAGES.index(stage)


def recommendation_problem(current: str, to_stage: str) -> MoveProblem | None:
    """Explain why the secretariat may not recommend moving from `current` to `to_stage`."""
    if current in SIDE_STATES:
        return MoveProblem("conflict", N_("mulighed er {stage}: genoptag den med en begrundelse "
                           "først"), {"stage": current})
    if to_stage in SIDE_STATES:
        return None
    if to_stage == current:
        return MoveProblem("conflict", N_("muligheden er allerede i fasen {stage}"),
                           {"stage": current})
    if _index(to_stage) > _index(current) + 1:
        return MoveProblem("conflict", N_("faser kan ikke springes over: næste fase efter {stage} "
                           "er {next}"), {"stage": current, "next": STAGES[_index(current) + 1]})
    return None


def decision_target(current: str, *, decision: str, to_stage: str) -> str | MoveProblem:
    """The stage a gate decision leads to, or why it is refused."""
    if current in SIDE_STATES:
        return MoveProblem("conflict", N_("mulighed er {stage}: genoptag den med en begrundelse "
                           "først"), {"stage": current})
    if decision in DECISION_TARGET:
        expected = DECISION_TARGET[decision]
        if to_stage != expected:
            return MoveProblem("field", N_("beslutningen {decision} fører til {expected}"),
                               {"decision": decision, "expected": expected})
        return expected
    if to_stage in SIDE_STATES:
        return MoveProblem("field", N_("brug hold for parkeret og kill for stoppet"), {})
    if decision == "go":
        if _index(to_stage) <= _index(current):
            return MoveProblem("field", N_("go fører videre til næste fase; brug recycle for at gå "
                               "tilbage"), {})
        if _index(to_stage) > _index(current) + 1:
            return MoveProblem("conflict", N_("faser kan ikke springes over: næste fase efter "
                               "{stage} er {next}"),
                               {"stage": current, "next": STAGES[_index(current) + 1]})
        return to_stage
    # recycle: back to an earlier stage, or the same one to rework it
    if _index(to_stage) > _index(current):
        return MoveProblem("field", N_("recycle fører tilbage til en tidligere fase"), {})
    return to_stage


def revive_problem(current: str, paused_from: str | None) -> MoveProblem | None:
    if current not in SIDE_STATES:
        return MoveProblem("conflict",
                           N_("kun parkerede og stoppede muligheder kan genoptages"), {})
    if paused_from is None:
        return MoveProblem("conflict", N_("det vides ikke, hvor muligheden stod"), {})
    return None
