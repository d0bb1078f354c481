"""The value-based procurement case: six steps pre-filled from evidence, the business case and
the choice of procedure (pure).

The region's 2015 idea platform died because nothing reached procurement, and its value-based
process starts again from need clarification. Here each step starts from what the test courses,
the clinical project, statistics and released outputs already show, with a link back to each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from marketplace.languages import N_, translate

STEP_KEYS = ("need", "value", "market", "investment", "procedure", "implementation")
STEP_LABELS = {
    "need": N_("Behovsafklaring"),
    "value": N_("Værdiafklaring"),
    "market": N_("Markedsafklaring"),
    "investment": N_("Investeringsgrundlag"),
    "procedure": N_("Valg af udbudsform"),
    "implementation": N_("Implementering og gevinstrealisering"),
}
ROUTE_LABELS = {
    "direct_purchase": N_("Direkte indkøb (under 50.000 kr. om året)"),
    "innovation_partnership": N_("Innovationspartnerskab"),
    "opi": N_("Offentlig-privat innovation (OPI)"),
    "tender": N_("Udbud efter bedste forhold mellem pris og kvalitet"),
}
ROUTE_REASONS = {
    "direct_purchase": N_("Den årlige pris er under kommunernes grænse på 50.000 kr., så "
                       "kommunen kan købe direkte."),
    "opi": N_("Muligheden er på sporet offentlig-privat partnerskab: OPI har egne "
           "modelaftaler."),
    "innovation_partnership": N_("Markedsdialogen viser, at ingen løsning findes i forvejen: et "
                              "innovationspartnerskab kræver en offentliggjort "
                              "behovsbeskrivelse og mindst 3 deltagere."),
    "tender": N_("Løsningen findes på markedet og prisen er over grænsen for direkte indkøb: "
              "et udbud vægter effekt, omkostninger og andre interessenters gevinst."),
}
STATUS_LABELS = {"open": N_("Åben"), "prefilled": N_("Forudfyldt fra evidens"),
                 "draft": N_("Kladde"), "complete": N_("Færdig")}
FIELD_LABELS = {
    "need_owner": N_("Behovsejer"), "need": N_("Behov"),
    "target_group": N_("Målgruppe"),
    "effects": N_("Målte effekter"),
    "kpis": N_("Mål pr. effektdimension"),
    "other_stakeholders": N_("Andre interessenters gevinst"),
    "companies": N_("Virksomheder"), "market": N_("Marked"),
    "existing_solutions": N_("Findes løsningen allerede på markedet?"),
    "yearly_cost_dkk": N_("Årlig pris (kr.)"),
    "one_off_cost_dkk": N_("Engangsomkostning (kr.)"),
    "volume": N_("Volumen (forløb om året)"),
    "unit_saving_dkk": N_("Enhedspris sparet pr. forløb (kr.)"),
    "effect_percent": N_("Effekt (%)"), "route": N_("Udbudsform"),
    "reason": N_("Begrundelse"), "plan": N_("Implementeringsplan"),
    "benefit_follow_up": N_("Opfølgning på gevinster"),
    "data_collection": N_("Dataindsamling og evaluering"),
}
# The pre-filled text is the buyer's working copy, written in Danish like the rest of the case.
DIMENSION_NAMES = {"treatment_errors": "Færre behandlingsfejl",
                   "prevented_admissions": "Forebyggede indlæggelser",
                   "faster_return_home": "Hurtigere tilbage til eget hjem og liv",
                   "own_resources": "Borgerens egne ressourcer"}
DIRECT_PURCHASE_LIMIT_DKK = 50_000
TCO_YEARS = 5

# Fields the buyer completes in each step (name → kind); pre-filled ones are text.
STEP_FIELDS: dict[str, dict[str, str]] = {
    "need": {"need_owner": "text", "need": "text", "target_group": "text"},
    "value": {"effects": "text", "kpis": "text", "other_stakeholders": "text"},
    "market": {"companies": "text", "market": "text", "existing_solutions": "bool"},
    "investment": {"yearly_cost_dkk": "int", "one_off_cost_dkk": "int", "volume": "int",
                   "unit_saving_dkk": "int", "effect_percent": "int"},
    "procedure": {"route": "text", "reason": "text"},
    "implementation": {"plan": "text", "benefit_follow_up": "text", "data_collection": "text"},
}


def label(table: Mapping[str, str], key: str, lang: str) -> str:
    return translate(table.get(key, key), lang)


@dataclass(frozen=True)
class EvidenceItem:
    source: str
    id: int
    title: str
    provenance: Mapping[str, Any]


@dataclass(frozen=True)
class CaseFacts:
    """What the opportunity knows when its case is opened."""

    title: str
    description: str
    need_owner: str | None
    buyer_kind: str
    companies: Sequence[str]
    kpis: Mapping[str, Mapping[str, Any]]
    tracks: Sequence[str]
    yearly_cost_dkk: int
    evidence: Sequence[EvidenceItem]


def choose_route(*, buyer_kind: str, yearly_cost_dkk: int, tracks: Sequence[str],
                 existing_solutions: bool | None) -> str:
    """Direct purchase under the municipal threshold; OPI on the partnership track; an
    innovation partnership when the market has no solution; otherwise a MEAT tender."""
    if buyer_kind == "municipal" and yearly_cost_dkk < DIRECT_PURCHASE_LIMIT_DKK:
        return "direct_purchase"
    if "partnership" in tracks:
        return "opi"
    if existing_solutions is False:
        return "innovation_partnership"
    return "tender"


@dataclass(frozen=True)
class BusinessCase:
    yearly_cost_dkk: int
    one_off_cost_dkk: int
    yearly_benefit_dkk: int | None
    tco_dkk: int
    net_dkk: int | None
    years: int = TCO_YEARS


def business_case(fields: Mapping[str, Any]) -> BusinessCase:
    """Effect × volume × unit cost against the total cost of ownership over five years."""
    yearly = int(fields.get("yearly_cost_dkk") or 0)
    one_off = int(fields.get("one_off_cost_dkk") or 0)
    volume, saving, effect = (fields.get(name) for name in
                              ("volume", "unit_saving_dkk", "effect_percent"))
    benefit = None
    if all(isinstance(v, int) and not isinstance(v, bool) for v in (volume, saving, effect)):
        benefit = round(volume * saving * effect / 100)  # type: ignore[operator]
    tco = one_off + yearly * TCO_YEARS
    return BusinessCase(yearly_cost_dkk=yearly, one_off_cost_dkk=one_off,
                        yearly_benefit_dkk=benefit, tco_dkk=tco,
                        net_dkk=None if benefit is None else benefit * TCO_YEARS - tco)


def _refs(items: Sequence[EvidenceItem]) -> list[dict[str, Any]]:
    return [{"source": item.source, "id": item.id} for item in items]


def _outcome_lines(items: Sequence[EvidenceItem]) -> tuple[list[str], list[EvidenceItem], int]:
    lines, used, best = [], [], 0
    for item in items:
        outcomes = item.provenance.get("outcomes") or []
        for outcome in outcomes:
            baseline, result = outcome.get("baseline"), outcome.get("result")
            unit = outcome.get("unit") or ""
            dimension = str(outcome.get("dimension"))
            text = f"{DIMENSION_NAMES.get(dimension, dimension)}: {outcome.get('metric')}"
            if baseline is not None:
                text += f" {baseline:g} → {result:g} {unit}".rstrip()
                if baseline:
                    best = max(best, round(abs(result - baseline) / abs(baseline) * 100))
            elif result is not None:
                text += f" {result:g} {unit}".rstrip()
            lines.append(f"{text} ({item.title})")
        if outcomes:
            used.append(item)
    return lines, used, best


def prefill_steps(facts: CaseFacts) -> list[dict[str, Any]]:
    """The six steps with what the evidence already answers and links back to it."""
    with_need = [i for i in facts.evidence if i.provenance.get("need")]
    with_market = [i for i in facts.evidence if i.provenance.get("market")]
    effect_lines, measured, best_effect = _outcome_lines(facts.evidence)
    kpi_lines = [f"{DIMENSION_NAMES.get(dimension, dimension)}: {kpi.get('baseline'):g} → "
                 f"{kpi.get('target'):g} {kpi.get('unit') or ''}".rstrip()
                 for dimension, kpi in facts.kpis.items()]
    need = "\n".join([facts.description] + [str(i.provenance["need"]) for i in with_need])
    steps: dict[str, dict[str, Any]] = {
        "need": {"fields": {"need_owner": facts.need_owner or "", "need": need.strip(),
                            "target_group": ""}, "evidence": _refs(with_need)},
        "value": {"fields": {"effects": "\n".join(effect_lines), "kpis": "\n".join(kpi_lines),
                             "other_stakeholders": ""}, "evidence": _refs(measured)},
        "market": {"fields": {"companies": ", ".join(facts.companies),
                              "market": "\n".join(str(i.provenance["market"])
                                                  for i in with_market),
                              "existing_solutions": None}, "evidence": _refs(with_market)},
        "investment": {"fields": {"yearly_cost_dkk": facts.yearly_cost_dkk,
                                  "one_off_cost_dkk": 0, "volume": None,
                                  "unit_saving_dkk": None,
                                  "effect_percent": best_effect or None},
                       "evidence": _refs(measured)},
        "procedure": {"fields": {}, "evidence": []},
        "implementation": {"fields": {"plan": "", "benefit_follow_up": "\n".join(kpi_lines),
                                      "data_collection": ""}, "evidence": []},
    }
    result = []
    for key in STEP_KEYS:
        step = steps[key]
        filled = any(value not in (None, "", 0) for value in step["fields"].values())
        result.append({"key": key, "status": "prefilled" if filled else "open", **step})
    return route_steps(result, facts.buyer_kind, facts.tracks)


def route_steps(steps: list[dict[str, Any]], buyer_kind: str,
                tracks: Sequence[str]) -> list[dict[str, Any]]:
    """Recompute the procedure step from the investment and market steps."""
    by_key = {step["key"]: step for step in steps}
    yearly = int(by_key["investment"]["fields"].get("yearly_cost_dkk") or 0)
    existing = by_key["market"]["fields"].get("existing_solutions")
    route = choose_route(buyer_kind=buyer_kind, yearly_cost_dkk=yearly, tracks=tracks,
                         existing_solutions=existing if isinstance(existing, bool) else None)
    procedure = by_key["procedure"]
    procedure["fields"] = {**procedure["fields"], "route": route,
                           "reason": ROUTE_REASONS[route]}
    if procedure["status"] == "open":
        procedure["status"] = "prefilled"
    return steps


def current_route(steps: Sequence[Mapping[str, Any]]) -> str:
    procedure = next(step for step in steps if step["key"] == "procedure")
    return str(procedure["fields"]["route"])
