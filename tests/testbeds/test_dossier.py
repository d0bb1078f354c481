"""The procurement dossier as data, and the KPI report."""
from datetime import UTC, date, datetime

import pytest

from marketplace.testbeds import dossier as dossiers
from marketplace.testbeds import kpis

WHEN = datetime(2026, 11, 1, tzinfo=UTC)


def make_dossier(**overrides):
    fields = dict(
        course_id=7, title="PulmoHome hos KOL-patienter", status="evaluated",
        goal="Færre indlæggelser", company_name="Pulmo Monitor ApS", company_country="DK",
        solution_name="PulmoHome", solution_description="Måling af iltmætning i hjemmet",
        themes=("home_treatment",), target_groups=("chronically_ill",), trl=7,
        environment_name_da="Ressourcemobilisering og hjemmebehandling",
        environment_name_en="Resource mobilisation and home treatment",
        hosts=("Idériget", "Rigshospitalet"), planned_start=date(2026, 3, 1),
        planned_end=date(2026, 10, 31), participants_planned=120, yearly_cost_dkk=42_000,
        need="Gentagne indlæggelser", value="Færre sengedage", market="Tre leverandører",
        generated_at=WHEN,
        outcomes=(dossiers.DossierOutcome("prevented_admissions", "host", "Indlæggelser",
                                          "pr. 100", 38, 27, 11 / 38, "12 måneder"),),
        evidence=(dossiers.DossierEvidence(1, "data.csv", "text/csv", 120, "ab" * 32,
                                           "prevented_admissions"),),
        procurement=dossiers.DossierProcurement("Region Hovedstaden", WHEN),
    )
    return dossiers.Dossier(**{**fields, **overrides})


@pytest.mark.parametrize(("cost", "expected"), [(None, None), (0, True), (50_000, True),
                                                (50_001, False), (3_500_000, False)])
def test_direct_purchase_level(cost, expected):
    assert make_dossier(yearly_cost_dkk=cost).within_direct_purchase is expected


def test_missing_inputs_are_listed():
    dossier = make_dossier(yearly_cost_dkk=None, need="", outcomes=())
    assert dossier.missing == ("yearly_cost", "need", "evidence_heading")
    assert make_dossier().missing == ()


def test_every_dimension_appears_even_when_not_measured():
    by_dimension = make_dossier().by_dimension()
    assert [d.code for d, _ in by_dimension] == [
        "treatment_errors", "prevented_admissions", "faster_return_home", "own_resources"]
    assert [len(outcomes) for _, outcomes in by_dimension] == [0, 1, 0, 0]


def test_kpi_report_against_targets():
    report = kpis.build_report(
        courses_by_status={"proposed": 4, "agreed": 30, "evaluated": 80, "declined": 2},
        municipalities_involved=23, hospitals_involved=5, foreign_companies=6, procurements=3,
        datasets_by_level={"regional": 4}, permits_by_level=None, as_of=WHEN)
    assert report.item("test_courses").value == 110 and report.item("test_courses").met
    assert report.item("municipalities_involved").progress == 1.0
    assert report.item("hospitals_involved").progress == pytest.approx((5 / 21) / 0.5)
    assert not report.item("innovative_procurements").met
    assert report.datasets_by_level == {"national": 0, "regional": 4, "municipal": 0}
    assert report.permits_by_level == {"national": 0, "regional": 0, "municipal": 0}
    body = kpis.report_to_json(report)
    assert body["municipalities_involved"] == {**body["municipalities_involved"],
                                               "involved": 23, "total": 46, "share": 0.5}
    assert body["foreign_companies"]["value"] == 6
