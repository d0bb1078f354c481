"""The life of a test course and CHC's four effect dimensions (pure rules, no database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marketplace.languages import N_, translate

# proposed → agreed → running → completed → evaluated; a host may decline a proposal and the
# company may withdraw it.
NEXT_STATUS: dict[str, tuple[str, ...]] = {
    "proposed": ("agreed", "declined", "withdrawn"),
    "agreed": ("running",),
    "running": ("completed",),
    "completed": ("evaluated",),
    "evaluated": (),
    "declined": (),
    "withdrawn": (),
}
ORDER = ("proposed", "agreed", "running", "completed", "evaluated")

# Who may make each move: the host decides on proposals and judges the result (buyers rely on
# an evaluation the company did not give itself); either party runs the course.
MOVED_BY: dict[str, frozenset[str]] = {
    "agreed": frozenset({"host"}),
    "declined": frozenset({"host"}),
    "withdrawn": frozenset({"company"}),
    "running": frozenset({"host", "company"}),
    "completed": frozenset({"host", "company"}),
    "evaluated": frozenset({"host"}),
}

# Statuses in which outcomes and evidence may still be added; an evaluated course is frozen
# because buyers rely on its dossier.
OUTCOMES_OPEN = frozenset({"running", "completed"})
DOSSIER_READY = frozenset({"completed", "evaluated"})
# Courses that count as public-private test courses (the host said yes).
AGREED_OR_LATER = frozenset({"agreed", "running", "completed", "evaluated"})

STATUS_LABELS = {
    "proposed": N_("Foreslået"),
    "agreed": N_("Aftalt"),
    "running": N_("I gang"),
    "completed": N_("Afsluttet"),
    "evaluated": N_("Evalueret"),
    "declined": N_("Afvist"),
    "withdrawn": N_("Trukket tilbage"),
}


@dataclass(frozen=True)
class Dimension:
    code: str
    label_da: str
    label_en: str
    better: str  # "lower" or "higher": which way is an improvement by default

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_da


EFFECT_DIMENSIONS: dict[str, Dimension] = {
    dimension.code: dimension
    for dimension in (
        Dimension("treatment_errors", "Færre behandlingsfejl", "Fewer treatment errors", "lower"),
        Dimension("prevented_admissions", "Forebyggede indlæggelser", "Prevented admissions",
                  "lower"),
        Dimension("faster_return_home", "Hurtigere tilbage til eget hjem og liv",
                  "Faster return to own home and life", "lower"),
        Dimension("own_resources", "Mobilisering af borgerens egne ressourcer",
                  "Mobilising the citizen's own resources", "higher"),
    )
}


@dataclass(frozen=True)
class TransitionProblem:
    kind: str  # "unknown" status, "order" (backwards, skipped, final) or "party" (not yours)
    template: str  # Danish source text with {named} values, translated where it is shown
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The Danish explanation with its values filled in."""
        return self.template.format(**self.values)


def transition_problem(current: str, target: str, *, party: str) -> TransitionProblem | None:
    """Explain why `party` ("host"/"company") may not move a course to `target`, or None."""
    if target not in NEXT_STATUS:
        return TransitionProblem("unknown", N_("ukendt status {status}"), {"status": target})
    if target == current:
        return TransitionProblem("order", N_("testforløbet er allerede {status}"),
                                 {"status": current})
    moves = {"current": current, "target": target}
    if target not in NEXT_STATUS[current]:
        if current in ORDER and target in ORDER and ORDER.index(target) < ORDER.index(current):
            return TransitionProblem(
                "order", N_("et testforløb kan ikke gå tilbage fra {current} til {target}"), moves)
        if not NEXT_STATUS[current]:
            return TransitionProblem(
                "order", N_("et testforløb kan ikke gå videre fra {current}, som er en "
                            "sluttilstand"), moves)
        return TransitionProblem(
            "order", N_("et testforløb kan ikke gå fra {current} til {target}; næste: {allowed}"),
            {**moves, "allowed": ", ".join(NEXT_STATUS[current])})
    if party not in MOVED_BY[target]:
        only = (N_("kun virksomheden kan flytte et testforløb til {target}")
                if MOVED_BY[target] == {"company"}
                else N_("kun værten kan flytte et testforløb til {target}"))
        return TransitionProblem("party", only, {"target": target})
    return None


def status_label(status: str, lang: str) -> str:
    return translate(STATUS_LABELS[status], lang)
