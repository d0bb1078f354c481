"""The growth pipeline's demo: the cluster with its secretariat and steering group, and
opportunities in every stage, among them a running clinical project at Herlev with a company
partner and one that ended in a municipal direct purchase."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.growth import cases, clinical, evidence, gates, opportunities
from marketplace.growth.models import Opportunity
from marketplace.growth.schemas import (
    ClinicalOutcomeIn,
    ClinicalProjectIn,
    GateDecisionIn,
    OpportunityIn,
    PlanIn,
    ProcurementCaseIn,
    RecommendationIn,
    StepIn,
)
from marketplace.growth.screening import ScreeningModel, load_model
from marketplace.identity import services as identity_services
from marketplace.identity.demo import DemoWorld
from marketplace.identity.principal import Principal
from marketplace.testbeds import services as testbeds_services

CLUSTER = ("copenhagen-healthtech-cluster", "Copenhagen Healthtech Cluster")
# sub, e-mail, name, role: the cluster's people (shown on the demo sign-in list through
# `demo_users`).
CLUSTER_STAFF = (
    ("secretariat-chc", "sekretariat@chc.example", "Nina Vestergaard", "secretariat"),
    ("steering-chc", "styregruppe@chc.example", "Poul Madsen", "steering_group"),
)
POLICIES = Path(__file__).resolve().parents[2] / "policies"
STAGE_PATH = ("identifikation", "kvalificering", "koncept_og_plan", "eksekvering")
MUST_MEET = {"public_need_owner": True, "lawful_purpose": True, "regulatory_path": True,
             "data_protection": True}

# title, description, need owner, companies, themes, final stage, tracks
IDEAS: tuple[tuple[str, str, str, list[str], list[str], str, list[str]], ...] = (
    ("Lysstyring mod uro på plejecentre", "Døgnrytmelys på demensafsnit kan mindske uro om "
     "natten.", "albertslund-kommune", ["lumen-care"], ["health_lighting"], "bobler", []),
    ("VR-træning af akutte procedurer", "Sygeplejersker træner sjældne akutte procedurer i "
     "VR før de møder dem.", "rigshospitalet", ["medsim-vr"], ["simulation"],
     "identifikation", []),
    ("Exoskelet i kommunal genoptræning", "Borgere efter apopleksi genoptræner gang med "
     "exoskelet i kommunen.", "broendby-kommune", ["nordic-rehab-robotics"],
     ["rehabilitation"], "koncept_og_plan", []),
    ("Hjemmemonitorering af KOL i Albertslund", "Borgere med KOL måler iltmætning hjemme; "
     "sygeplejersken ser målingerne og griber ind før en indlæggelse.",
     "albertslund-kommune", ["pulmo-monitor"], ["telemedicine", "home_treatment"],
     "eksekvering", ["procurement"]),
    ("Grænseoverskridende teleomsorg", "Et tysk teleomsorgsprodukt tilpasses danske "
     "kommuner.", "koebenhavns-kommune", ["carebridge"], ["telemedicine"], "parkeret", []),
    ("Sensorgulve mod fald", "Sensorgulve opdager fald på plejecentre.",
     "koebenhavns-kommune", ["lumen-care"], ["prevention"], "stoppet", []),
)


def demo_users() -> list[dict[str, str]]:
    """The cluster's demo users, for the development sign-in provider and the sign-in list."""
    return [{"sub": sub, "email": email, "name": name, "role": role,
             "org": CLUSTER[1]} for sub, email, name, role in CLUSTER_STAFF]


def _at(world: DemoWorld, days_ago: int) -> datetime:
    return datetime.combine(world.today - timedelta(days=days_ago), time(10), tzinfo=UTC)


def _staff(session: Session, sub: str) -> Principal:
    user = identity_services.get_user_by_sub(session, sub=sub)
    assert user is not None, sub
    return identity_services.staff_principal(user)


def _seed_cluster(session: Session) -> None:
    slug, name = CLUSTER
    org = identity_services.get_org(session, slug=slug) or identity_services.create_org(
        session, slug=slug, name=name, kind="cluster", country="DK", accredited=True,
        homepage="https://www.copenhagenhealthtech.example", email=f"kontakt@{slug}.example")
    for sub, email, person, role in CLUSTER_STAFF:
        if identity_services.get_user_by_sub(session, sub=sub) is None:
            identity_services.add_user(session, sub=sub, email=email, name=person, org=org,
                                       role=role)
    session.flush()


def _move(session: Session, opportunity: Opportunity, *, to_stage: str, model: ScreeningModel,
          secretariat: Principal, steering: Principal, at: datetime,
          decision: str = "go") -> None:
    scores = {"treatment_errors": 3, "prevented_admissions": 4, "need_volume": 4,
              "market_export": 3, "company_readiness": 7, "evidence_strength": 3}
    gates.recommend(session, actor=secretariat, opportunity_id=opportunity.id, model=model,
                    now=at, data=RecommendationIn.model_validate({
                        "to_stage": to_stage, "scores": scores, "must_meet": MUST_MEET,
                        "reasons": {"need_volume": "Behovet findes i de fleste kommuner."},
                        "text": "Sekretariatet indstiller, at muligheden går videre."}))
    gates.decide(session, actor=steering, opportunity_id=opportunity.id, model=model,
                 now=at + timedelta(days=7), data=GateDecisionIn.model_validate({
                     "to_stage": to_stage, "decision": decision,
                     "minutes": "Styregruppen drøftede indstillingen og besluttede."}))


def _plan(session: Session, opportunity: Opportunity, actor: Principal, tracks: list[str],
          at: datetime) -> None:
    gates.set_plan(session, actor=actor, opportunity_id=opportunity.id, now=at,
                   data=PlanIn.model_validate({"kpis": [
                       {"dimension": "prevented_admissions", "baseline": 30, "target": 20,
                        "unit": "% genindlagt inden for 30 dage"},
                       {"dimension": "own_resources", "baseline": 2, "target": 4,
                        "unit": "egenomsorg (1-5)"}], "tracks": tracks or ["procurement"]}))


def seed_demo(session: Session, world: DemoWorld) -> None:
    """Add the growth pipeline's demo content (idempotent)."""
    _seed_cluster(session)
    if session.scalar(sa.select(sa.func.count()).select_from(Opportunity)):
        return
    model = load_model(POLICIES)
    secretariat = _staff(session, "secretariat-chc")
    steering = _staff(session, "steering-chc")
    company = _staff(session, "company-pulmo")
    for number, (title, description, owner, companies, themes, final, tracks) in enumerate(
            IDEAS):
        start = _at(world, 330 - number * 20)
        opportunity = opportunities.create_opportunity(
            session, actor=secretariat if number % 2 else company, now=start,
            data=OpportunityIn(title=title, description=description, need_owner=owner,
                               companies=companies, themes=themes))
        at = start + timedelta(days=14)
        if final in ("parkeret", "stoppet"):
            _move(session, opportunity, to_stage="identifikation", model=model,
                  secretariat=secretariat, steering=steering, at=at)
            _move(session, opportunity, to_stage=final, model=model, secretariat=secretariat,
                  steering=steering, at=at + timedelta(days=30),
                  decision="hold" if final == "parkeret" else "kill")
            continue
        for stage in STAGE_PATH[:STAGE_PATH.index(final) + 1] if final != "bobler" else ():
            if stage == "eksekvering":
                _plan(session, opportunity, secretariat, tracks, at)
            _move(session, opportunity, to_stage=stage, model=model, secretariat=secretariat,
                  steering=steering, at=at)
            at += timedelta(days=30)
        if final == "eksekvering":
            _link_test_course(session, opportunity, company, at)
            _direct_purchase(session, world, opportunity, secretariat, at)
    _herlev_project(session, world, secretariat, steering, model)


def _link_test_course(session: Session, opportunity: Opportunity, company: Principal,
                      at: datetime) -> None:
    """Link the company's evaluated test course from the test-environment demo, if present."""
    courses = testbeds_services.list_test_courses(session, actor=company, status="evaluated")
    for course in courses[:1]:
        evidence.link_evidence(session, actor=company, opportunity_id=opportunity.id,
                               source="test_course", source_id=course.id, now=at)


def _direct_purchase(session: Session, world: DemoWorld, opportunity: Opportunity,
                     secretariat: Principal, at: datetime) -> None:
    buyer = _staff(session, "admin-albertslund")
    case = cases.open_case(session, actor=buyer, opportunity_id=opportunity.id, now=at,
                           data=ProcurementCaseIn(yearly_cost_dkk=42_000))
    answers = {
        "need": {"target_group": "Borgere med KOL i hjemmeplejen"},
        "value": {"other_stakeholders": "Almen praksis og Herlev Hospital får færre "
                                        "akutte henvendelser."},
        "market": {"existing_solutions": True, "market": "To danske leverandører."},
        "investment": {"volume": 120, "unit_saving_dkk": 4_500, "effect_percent": 25},
        "implementation": {"plan": "Udrulning i hjemmeplejen over tre måneder.",
                           "data_collection": "Genindlæggelser følges i kommunens data."},
    }
    for step, fields in answers.items():
        cases.complete_step(session, actor=buyer, case_id=case.id, step=step,
                            now=at + timedelta(days=10),
                            data=StepIn.model_validate({"fields": fields}))


def _herlev_project(session: Session, world: DemoWorld, secretariat: Principal,
                    steering: Principal, model: ScreeningModel) -> None:
    """A running clinical project at Herlev with Pulmo Monitor as partner."""
    admin = _staff(session, "admin-herlev")
    _project, opportunity = clinical.register_clinical_project(
        session, actor=admin, now=_at(world, 60), data=ClinicalProjectIn(
            title="AI-støttet opfølgning efter indlæggelse for KOL",
            description="Et klinisk forskningsprojekt på Herlev, der allerede kører: "
                        "patienter følges hjemme med Pulmo Monitors måler efter udskrivelse.",
            department="herlev-hospital", funding_dkk=3_600_000, start=date(2025, 3, 1),
            end=date(2028, 2, 29), ethics_approval="H-24061122",
            company_partners=["pulmo-monitor"], themes=["health_data", "telemedicine"],
            outcomes=[ClinicalOutcomeIn(dimension="prevented_admissions",
                                metric="genindlæggelser inden for 30 dage", baseline=28.0,
                                result=19.0, unit="%"),
                      ClinicalOutcomeIn(dimension="faster_return_home", metric="liggedage",
                                baseline=6.1, result=4.8, unit="dage")]))
    gates.recommend(session, actor=secretariat, opportunity_id=opportunity.id, model=model,
                    now=_at(world, 20), data=RecommendationIn(
                        to_stage="koncept_og_plan", must_meet=MUST_MEET,
                        scores={"prevented_admissions": 4, "faster_return_home": 3,
                                "evidence_strength": 5, "need_volume": 4},
                        reasons={"evidence_strength": "Klinisk projekt med målte effekter."},
                        text="Projektet kører allerede i klinikken; sekretariatet indstiller "
                             "Koncept og plan med regionens koncernindkøb som køber."))
