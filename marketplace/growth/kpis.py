"""The grant's growth targets against live records, with yearly milestones.

`growth_kpis` returns the fields GET /api/v1/kpis adds for the growth pipeline. Involvement,
foreign companies and procurements count test courses as well as the pipeline, so these
supersede the test-environment-only figures of the same names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.growth.models import (
    STAGES,
    ClinicalProject,
    GateDecision,
    Opportunity,
    OpportunityCompany,
    ProcurementCase,
)
from marketplace.identity.models import Organisation
from marketplace.testbeds.models import Procurement, TestCourse, TestEnvironmentHost

MUNICIPALITIES_IN_REGION = 46
HOSPITALS_IN_REGION = 21
# The grant's milestones for public-private test courses, per programme year (100 in all).
TEST_COURSE_MILESTONES = ((2026, 20), (2027, 35), (2028, 45))
OPPORTUNITIES_PER_YEAR = 3
AGREED_OR_LATER = ("agreed", "running", "completed", "evaluated")


@dataclass(frozen=True)
class Target:
    code: str
    label_da: str
    label_en: str
    value: float
    target: float
    target_min: float | None = None
    total: int | None = None  # shares: out of how many

    @property
    def progress(self) -> float:
        return min(1.0, self.value / self.target) if self.target else 1.0

    @property
    def met(self) -> bool:
        return self.value >= (self.target_min if self.target_min is not None else self.target)

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_da


@dataclass(frozen=True)
class Milestone:
    year: int
    target: int
    value: int
    cumulative_target: int
    cumulative: int


@dataclass(frozen=True)
class GrowthReport:
    as_of: datetime
    targets: tuple[Target, ...]
    test_course_milestones: tuple[Milestone, ...]
    opportunities_by_year: dict[int, int]


def _year(value: datetime) -> int:
    return value.year


def growth_report(session: Session, *, now: datetime) -> GrowthReport:
    """Count the targets from the pipeline's and the test environments' records."""
    gone_go = sa.select(GateDecision.opportunity_id, sa.func.min(GateDecision.at)).where(
        GateDecision.decision == "go", GateDecision.to_stage == "eksekvering").group_by(
        GateDecision.opportunity_id)
    initiated_at = dict(session.execute(gone_go).all())
    # Clinical projects and demo histories may start in Eksekvering without a gate record.
    for opportunity_id, updated in session.execute(sa.select(
            Opportunity.id, Opportunity.updated_at).where(Opportunity.stage == "eksekvering")):
        initiated_at.setdefault(opportunity_id, updated)
    initiated = set(initiated_at)
    # Identified: past the first gate (or entered later, as clinical projects do).
    identified = set(session.scalars(sa.select(Opportunity.id).where(
        Opportunity.stage.in_(STAGES[1:])))) | set(session.scalars(
        sa.select(GateDecision.opportunity_id).where(GateDecision.decision == "go")))
    by_year: dict[int, int] = {}
    for at in initiated_at.values():
        by_year[_year(at)] = by_year.get(_year(at), 0) + 1
    themes: set[str] = set()
    tracks: dict[int, list[str]] = {}
    for opportunity_id, opportunity_themes, opportunity_tracks in session.execute(
            sa.select(Opportunity.id, Opportunity.themes, Opportunity.tracks).where(
                Opportunity.id.in_(initiated))):
        themes.update(opportunity_themes or [])
        tracks[opportunity_id] = list(opportunity_tracks or [])
    companies = session.execute(sa.select(OpportunityCompany.opportunity_id, Organisation.id,
                                          Organisation.country).join(
        Organisation, Organisation.id == OpportunityCompany.org_id).where(
        OpportunityCompany.opportunity_id.in_(initiated))).all()
    domestic = {org for opp, org, _c in companies
                if {"procurement", "partnership"} & set(tracks.get(opp, []))}
    export = {org for opp, org, _c in companies if "export" in tracks.get(opp, [])}

    agreed = TestCourse.status.in_(AGREED_OR_LATER)
    hosts = session.execute(sa.select(TestEnvironmentHost.sector, TestEnvironmentHost.org_id)
                            .distinct().join(TestCourse, TestCourse.environment_id
                                             == TestEnvironmentHost.environment_id)
                            .where(agreed)).all()
    municipalities = {org for sector, org in hosts if sector == "municipality"}
    hospitals = {org for sector, org in hosts if sector == "hospital"}
    public = session.execute(sa.select(Organisation.kind, Organisation.id).where(
        Organisation.id.in_(sa.union(
            sa.select(Opportunity.need_owner_org_id).where(
                Opportunity.need_owner_org_id.is_not(None)),
            sa.select(ProcurementCase.buyer_org_id),
            sa.select(Procurement.buyer_org_id))))).all()
    municipalities |= {org for kind, org in public if kind == "municipal"}
    hospitals |= set(session.scalars(sa.select(ClinicalProject.department_org_id)))
    foreign = session.scalar(
        sa.select(sa.func.count(sa.distinct(TestCourse.company_org_id)))
        .join(Organisation, Organisation.id == TestCourse.company_org_id)
        .where(agreed, Organisation.country != "DK")) or 0
    procurements = (session.scalar(sa.select(sa.func.count()).select_from(Procurement)) or 0) + (
        session.scalar(sa.select(sa.func.count()).select_from(ProcurementCase)) or 0)

    course_years: dict[int, int] = {}
    for created in session.scalars(sa.select(TestCourse.created_at).where(agreed)):
        course_years[created.year] = course_years.get(created.year, 0) + 1
    milestones, cumulative, cumulative_target = [], 0, 0
    first_year = TEST_COURSE_MILESTONES[0][0]
    for index, (year, target) in enumerate(TEST_COURSE_MILESTONES):
        # Courses agreed before the programme's first year count towards that year.
        value = sum(n for y, n in course_years.items()
                    if y == year or (index == 0 and y < first_year))
        cumulative += value
        cumulative_target += target
        milestones.append(Milestone(year, target, value, cumulative_target, cumulative))

    targets = (
        Target("opportunities_identified", "Vækstmuligheder identificeret",
               "Growth opportunities identified", len(identified), 12, target_min=9),
        Target("opportunities_initiated", "Vækstmuligheder sat i gang (3 om året)",
               "Growth opportunities initiated (3 a year)", len(initiated), 12, target_min=9),
        Target("business_areas", "Nye forretningsområder", "New business areas",
               len(themes), 4),
        Target("companies_domestic_growth", "Virksomheder med vækst på hjemmemarkedet",
               "Companies growing on the home market", len(domestic), 8),
        Target("companies_export_growth", "Virksomheder med eksportvækst",
               "Companies growing exports", len(export), 6),
        Target("municipalities_involved", "Andel af regionens 46 kommuner involveret",
               "Share of the region's 46 municipalities involved",
               len(municipalities) / MUNICIPALITIES_IN_REGION, 0.5,
               total=MUNICIPALITIES_IN_REGION),
        Target("hospitals_involved", "Andel af regionens 21 hospitaler involveret",
               "Share of the region's 21 hospitals involved",
               len(hospitals) / HOSPITALS_IN_REGION, 0.5, total=HOSPITALS_IN_REGION),
        Target("foreign_companies", "Udenlandske virksomheder, der tester",
               "Foreign companies testing", foreign, 4),
        Target("innovative_procurements", "Innovative indkøb", "Innovative procurements",
               procurements, 8),
    )
    return GrowthReport(as_of=now, targets=targets, test_course_milestones=tuple(milestones),
                        opportunities_by_year=dict(sorted(by_year.items())))


def report_to_json(report: GrowthReport) -> dict[str, Any]:
    """The growth fields of GET /api/v1/kpis."""
    result: dict[str, Any] = {}
    for target in report.targets:
        entry: dict[str, Any] = {"label_da": target.label_da, "label_en": target.label_en,
                                 "target": target.target, "progress": round(target.progress, 4),
                                 "met": target.met}
        if target.target_min is not None:
            entry["target_range"] = [target.target_min, target.target]
        if target.total is None:
            entry["value"] = int(target.value)
        else:
            entry |= {"share": round(target.value, 4),
                      "involved": round(target.value * target.total), "total": target.total}
        result[target.code] = entry
    result["opportunities_initiated"]["by_year"] = {
        str(year): n for year, n in report.opportunities_by_year.items()}
    result["opportunities_initiated"]["per_year_target"] = OPPORTUNITIES_PER_YEAR
    result["test_course_milestones"] = [
        {"year": m.year, "target": m.target, "value": m.value,
         "cumulative_target": m.cumulative_target, "cumulative": m.cumulative}
        for m in report.test_course_milestones]
    return result


def growth_kpis(session: Session, *, now: datetime) -> dict[str, Any]:
    """The growth pipeline's KPI fields, ready to merge into GET /api/v1/kpis."""
    return report_to_json(growth_report(session, now=now))
