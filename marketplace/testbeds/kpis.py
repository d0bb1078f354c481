"""Copenhagen Healthtech Cluster's targets and the progress against them (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marketplace.testbeds.lifecycle import AGREED_OR_LATER

MUNICIPALITIES_IN_REGION = 46
HOSPITALS_IN_REGION = 21
TARGET_TEST_COURSES = 100
TARGET_SHARE_INVOLVED = 0.5
TARGET_FOREIGN_COMPANIES = 4
TARGET_PROCUREMENTS = 8
LEVELS = ("national", "regional", "municipal")


@dataclass(frozen=True)
class Kpi:
    code: str
    label_da: str
    label_en: str
    value: float
    target: float
    total: int | None = None  # for shares: out of how many

    @property
    def progress(self) -> float:
        """How far towards the target, 0..1."""
        return min(1.0, self.value / self.target) if self.target else 1.0

    @property
    def met(self) -> bool:
        return self.value >= self.target

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_da


@dataclass(frozen=True)
class KpiReport:
    as_of: datetime
    items: tuple[Kpi, ...]
    courses_by_status: dict[str, int]
    datasets_by_level: dict[str, int]
    permits_by_level: dict[str, int]

    def item(self, code: str) -> Kpi:
        return next(kpi for kpi in self.items if kpi.code == code)


def _levels(counts: dict[str, int] | None) -> dict[str, int]:
    counts = counts or {}
    return {level: int(counts.get(level, 0)) for level in LEVELS}


def build_report(*, courses_by_status: dict[str, int], municipalities_involved: int,
                 hospitals_involved: int, foreign_companies: int, procurements: int,
                 datasets_by_level: dict[str, int] | None,
                 permits_by_level: dict[str, int] | None, as_of: datetime) -> KpiReport:
    """Put the counted facts next to the targets set for the end of the programme."""
    # Courses the host has said yes to count as public-private test courses.
    courses = sum(courses_by_status.get(status, 0) for status in AGREED_OR_LATER)
    items = (
        Kpi("test_courses", "Offentlig-private testforløb", "Public-private test courses",
            courses, TARGET_TEST_COURSES),
        Kpi("municipalities_involved", "Andel af regionens 46 kommuner involveret",
            "Share of the region's 46 municipalities involved",
            municipalities_involved / MUNICIPALITIES_IN_REGION, TARGET_SHARE_INVOLVED,
            total=MUNICIPALITIES_IN_REGION),
        Kpi("hospitals_involved", "Andel af regionens 21 hospitaler involveret",
            "Share of the region's 21 hospitals involved",
            hospitals_involved / HOSPITALS_IN_REGION, TARGET_SHARE_INVOLVED,
            total=HOSPITALS_IN_REGION),
        Kpi("foreign_companies", "Udenlandske virksomheder, der tester",
            "Foreign companies testing", foreign_companies, TARGET_FOREIGN_COMPANIES),
        Kpi("innovative_procurements", "Innovative indkøb startet",
            "Innovative procurements started", procurements, TARGET_PROCUREMENTS),
    )
    return KpiReport(
        as_of=as_of,
        items=items,
        courses_by_status={status: int(count) for status, count in courses_by_status.items()},
        datasets_by_level=_levels(datasets_by_level),
        permits_by_level=_levels(permits_by_level),
    )


def report_to_json(report: KpiReport) -> dict:
    """The public JSON form of the report (GET /api/v1/kpis)."""
    items = {}
    for kpi in report.items:
        entry = {"label_da": kpi.label_da, "label_en": kpi.label_en, "target": kpi.target,
                 "progress": round(kpi.progress, 4), "met": kpi.met}
        if kpi.total is None:
            entry["value"] = int(kpi.value)
        else:
            entry |= {"share": round(kpi.value, 4), "involved": round(kpi.value * kpi.total),
                      "total": kpi.total}
        items[kpi.code] = entry
    return {
        "as_of": report.as_of.isoformat(),
        **items,
        "test_courses_by_status": report.courses_by_status,
        "datasets_by_level": report.datasets_by_level,
        "permits_by_level": report.permits_by_level,
    }
