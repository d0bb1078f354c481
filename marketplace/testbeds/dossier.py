"""The procurement dossier of a test course: what a buyer needs, as data (pure).

The region's 2015 idea platform died because nothing it produced reached procurement. The
dossier carries a finished test course's evidence into the inputs the region's value-based
procurement asks for (need, value, market) and tells a municipality whether the yearly cost is
under the DKK 50,000 it can buy directly. The page and the PDF are one template
(`testbeds/dossier.html`); the JSON of `serialise.dossier_to_json` is its content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from marketplace.testbeds.lifecycle import EFFECT_DIMENSIONS, Dimension

DIRECT_PURCHASE_LIMIT_DKK = 50_000


@dataclass(frozen=True)
class DossierOutcome:
    dimension: str
    party: str
    metric: str
    unit: str
    baseline: float | None
    result: float
    change: float | None
    note: str


@dataclass(frozen=True)
class DossierEvidence:
    id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    dimension: str | None


@dataclass(frozen=True)
class DossierProcurement:
    buyer: str
    started_at: datetime


@dataclass(frozen=True)
class Dossier:
    course_id: int
    title: str
    status: str
    goal: str
    company_name: str
    company_country: str
    solution_name: str
    solution_description: str
    themes: tuple[str, ...]
    target_groups: tuple[str, ...]
    trl: int | None
    environment_name_da: str
    environment_name_en: str
    hosts: tuple[str, ...]
    planned_start: date | None
    planned_end: date | None
    participants_planned: int | None
    yearly_cost_dkk: int | None
    need: str
    value: str
    market: str
    generated_at: datetime
    outcomes: tuple[DossierOutcome, ...] = ()
    evidence: tuple[DossierEvidence, ...] = ()
    procurement: DossierProcurement | None = None
    timeline: tuple[tuple[str, date], ...] = ()
    missing: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        wanted = {
            "yearly_cost": self.yearly_cost_dkk is None,
            "need": not self.need,
            "value": not self.value,
            "market": not self.market,
            "evidence_heading": not self.outcomes,
        }
        object.__setattr__(self, "missing", tuple(key for key, gap in wanted.items() if gap))

    @property
    def within_direct_purchase(self) -> bool | None:
        """Whether a municipality may buy it directly (None when the cost is unknown)."""
        if self.yearly_cost_dkk is None:
            return None
        return self.yearly_cost_dkk <= DIRECT_PURCHASE_LIMIT_DKK

    def environment_name(self, lang: str) -> str:
        return self.environment_name_en if lang == "en" else self.environment_name_da

    def by_dimension(self) -> list[tuple[Dimension, list[DossierOutcome]]]:
        """All four effect dimensions, each with its recorded outcomes (possibly none)."""
        return [
            (dimension, [o for o in self.outcomes if o.dimension == code])
            for code, dimension in EFFECT_DIMENSIONS.items()
        ]
