"""The life of a test course and CHC's four effect dimensions (pure rules, no database)."""

from __future__ import annotations

from dataclasses import dataclass

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
    message: str


def transition_problem(current: str, target: str, *, party: str) -> TransitionProblem | None:
    """Explain why `party` ("host"/"company") may not move a course to `target`, or None."""
    if target not in NEXT_STATUS:
        return TransitionProblem("unknown", f"unknown status {target!r}")
    if target == current:
        return TransitionProblem("order", f"the test course is already {current}")
    if target not in NEXT_STATUS[current]:
        if current in ORDER and target in ORDER and ORDER.index(target) < ORDER.index(current):
            return TransitionProblem(
                "order", f"a test course cannot move back from {current} to {target}")
        allowed = ", ".join(NEXT_STATUS[current]) or "none (final state)"
        return TransitionProblem(
            "order", f"a test course cannot move from {current} to {target}; next: {allowed}")
    if party not in MOVED_BY[target]:
        only = "the company" if MOVED_BY[target] == {"company"} else "the host"
        return TransitionProblem("party", f"only {only} may move a test course to {target}")
    return None


def status_label(status: str, lang: str) -> str:
    return translate(STATUS_LABELS[status], lang)
