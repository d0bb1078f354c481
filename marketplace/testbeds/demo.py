"""Demo content of the testbeds domain: the five environments, solutions and courses."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.catalog import services as catalog_services
from marketplace.identity.demo import DemoWorld
from marketplace.identity.principal import Principal
from marketplace.testbeds import services
from marketplace.testbeds.commands import (
    CourseChanges,
    CourseProposal,
    OutcomeReport,
    SolutionDescription,
)
from marketplace.testbeds.matching import Profile
from marketplace.testbeds.models import SolutionProfile, TestEnvironment, TestEnvironmentHost
from marketplace.testbeds.seed_data import ENVIRONMENTS_PATH

# company slug, solution name, profile, environment slug, course title, final status
DEMO_COURSES: tuple[tuple[str, str, Profile, str, str, str], ...] = (
    ("pulmo-monitor", "PulmoHome: KOL-monitorering i eget hjem",
     Profile(themes=frozenset({"home_treatment", "telemedicine"}),
             target_groups=frozenset({"chronically_ill"}), needs=frozenset({"patients", "data"}),
             trl=7, description="App og pulsoximeter til borgere med KOL: daglige målinger af "
                                "iltmætning i hjemmet, så sygeplejersker kan gribe ind før en "
                                "indlæggelse."),
     "ressourcemobilisering-hjemmebehandling", "PulmoHome hos KOL-patienter på Rigshospitalet",
     "evaluated"),
    ("medsim-vr", "LapVR: VR-træning i laparoskopisk kirurgi",
     Profile(themes=frozenset({"simulation", "surgery"}),
             target_groups=frozenset({"clinical_staff", "students"}),
             needs=frozenset({"clinical_staff", "facilities"}), trl=6,
             description="VR simulator for training laparoscopic surgery skills of junior "
                         "doctors."),
     "avanceret-simulation", "LapVR i CAMES' simulationscenter", "completed"),
    ("nordic-rehab-robotics", "StrideAssist exoskelet",
     Profile(themes=frozenset({"rehabilitation", "assistive_technology"}),
             target_groups=frozenset({"citizens_with_disabilities"}),
             needs=frozenset({"patients", "citizens", "clinical_staff"}), trl=7,
             description="Exoskelet til gangtræning af borgere med lammelser efter apopleksi."),
     "rehabilitering", "StrideAssist i genoptræning efter apopleksi", "proposed"),
    ("lumen-care", "CircaLight døgnrytmelys",
     Profile(themes=frozenset({"health_lighting"}), target_groups=frozenset({"elderly"}),
             needs=frozenset({"citizens", "care_staff"}), trl=8,
             description="Dynamisk døgnrytmelys på plejecentre mod uro og søvnproblemer hos "
                         "beboere med demens."),
     "sundhedsbelysning", "CircaLight på plejecenter i Albertslund", "agreed"),
    ("lumen-care", "CircaLight i patientstuer",
     Profile(themes=frozenset({"health_lighting", "health_data"}),
             target_groups=frozenset({"hospital_patients"}), needs=frozenset({"data"}), trl=8,
             description="Circadian lighting in patient rooms, evaluated on sleep data."),
     "sundhedsdata", "CircaLight og søvndata på Herlev", "declined"),
    ("carebridge", "CareBridge sepsis early warning",
     Profile(themes=frozenset({"artificial_intelligence", "health_data"}),
             target_groups=frozenset({"hospital_patients"}),
             needs=frozenset({"data", "clinical_staff"}), trl=5,
             description="Machine learning early warning of sepsis from vital signs and "
                         "laboratory data in the electronic health record."),
     "sundhedsdata", "Sepsis early warning on Herlev's data", "running"),
)
PATH = ("agreed", "running", "completed", "evaluated")

PULMO_OUTCOMES = (
    {"dimension": "prevented_admissions", "metric": "Indlæggelser pr. 100 borgere pr. år",
     "unit": "indlæggelser", "baseline": 38, "result": 27,
     "note": "120 borgere med svær KOL, 12 måneder, sammenlignet med året før."},
    {"dimension": "faster_return_home", "metric": "Gennemsnitlig indlæggelsestid", "unit": "dage",
     "baseline": 6.1, "result": 4.8},
    {"dimension": "own_resources", "metric": "Borgere, der selv reagerer på målinger",
     "unit": "%", "baseline": 20, "result": 64},
    {"dimension": "treatment_errors", "metric": "Fejl i medicinændringer", "unit": "hændelser",
     "baseline": 9, "result": 5},
)
PULMO_EVIDENCE = (
    "maaned,indlaeggelser_foer,indlaeggelser_efter\n"
    + "\n".join(f"{month:02d},{3 + month % 2},{2 + month % 3 // 2}" for month in range(1, 13))
    + "\n"
).encode()


def _actor(org: Any, *, role: str) -> Principal:
    return Principal(kind="staff", name=f"Demo ({org.name})", org_id=org.id, org_slug=org.slug,
                     org_kind=org.kind, role=role)


def _seed_environments(session: Session, world: DemoWorld) -> dict[str, TestEnvironment]:
    specs = json.loads(ENVIRONMENTS_PATH.read_text(encoding="utf-8"))["environments"]
    environments = {}
    for spec in specs:
        environment = services.get_test_environment_by_slug(session, slug=spec["slug"])
        if environment is None:
            hosts = [world.orgs[host["slug"]] for host in spec["hosts"]]
            publishers = [org.id for org in hosts if org.is_data_holder]
            datasets = catalog_services.list_published_datasets(
                session, publisher_org_ids=publishers) if publishers else []
            datasets = [d for d in datasets if _fits(d, spec)]
            environment = TestEnvironment(
                slug=spec["slug"], **{k: spec[k] for k in (
                    "name_da", "name_en", "description_da", "description_en", "themes",
                    "target_groups", "resources", "facilities", "trl_min", "trl_max",
                    "contact_name", "contact_email", "homepage")},
                capacity_per_year=spec["capacity_per_year"],
                dataset_ids=sorted(d.id for d in datasets)[:6],
                hosts=[TestEnvironmentHost(org_id=org.id, sector=host["sector"], position=i)
                       for i, (org, host) in enumerate(zip(hosts, spec["hosts"], strict=True))],
            )
            session.add(environment)
            session.flush()
        environments[spec["slug"]] = environment
    return environments


def _fits(dataset: Any, spec: dict[str, Any]) -> bool:
    """Whether a host's dataset is about what the environment tests (shares key concepts)."""
    vocabulary = services.VOCABULARY
    about = vocabulary.analyse(" ".join([spec["description_da"], spec["description_en"]]))
    text = " ".join([dataset.title, getattr(dataset, "description", "") or "",
                     *(dataset.keywords or [])])
    shared = set(vocabulary.analyse(text)) & set(about)
    return sum(vocabulary.concepts[code].weight for code in shared) >= 2.0


def seed_demo(session: Session, world: DemoWorld) -> None:
    """Add this domain's demo content to the demo world (idempotent)."""
    environments = _seed_environments(session, world)
    start = datetime.combine(world.today - timedelta(days=200), time(9), tzinfo=UTC)
    for number, (company_slug, name, profile, env_slug, title, final) in enumerate(DEMO_COURSES):
        company = world.orgs[company_slug]
        exists = session.scalar(sa.select(SolutionProfile.id).where(
            SolutionProfile.company_org_id == company.id, SolutionProfile.name == name))
        if exists is not None:
            continue
        company_actor = _actor(company, role="company_member")
        environment = environments[env_slug]
        host_actor = _actor(environment.hosts[0].org, role="host_member")
        now = start + timedelta(days=number)
        solution = services.create_solution_profile(
            session, actor=company_actor,
            description=SolutionDescription.of(profile, name=name))
        course = services.propose_test_course(
            session, actor=company_actor, now=now, proposal=CourseProposal(
                test_environment_id=environment.id, solution_profile_id=solution.id,
                title=title, goal=profile.description,
                planned_start=date(world.today.year, 3, 1),
                planned_end=date(world.today.year, 10, 31), participants_planned=40))
        _advance(session, world, course_id=course.id, final=final, company=company_actor,
                 host=host_actor, now=now)


def _advance(session: Session, world: DemoWorld, *, course_id: int, final: str,
             company: Principal, host: Principal, now: datetime) -> None:
    if final == "declined":
        services.change_test_course(
            session, actor=host, course_id=course_id, now=now + timedelta(days=3),
            changes=CourseChanges(
                status="declined",
                comment="Vi har ikke kapacitet til lysforsøg på sengeafsnit i år."))
        return
    steps = PATH[:PATH.index(final) + 1] if final in PATH else ()
    for day, status in enumerate(steps, start=1):
        if status == "evaluated":
            _record_evidence(session, world, course_id=course_id, host=host)
        if status == "completed":
            services.change_test_course(session, actor=company, course_id=course_id, now=now,
                                        changes=_procurement_inputs(final))
        services.change_test_course(session, actor=host, course_id=course_id,
                                    changes=CourseChanges(status=status),
                                    now=now + timedelta(days=30 * day))
    if final == "evaluated":
        buyer = world.orgs["region-hovedstaden"]
        services.start_procurement(
            session, actor=_actor(buyer, role="holder_admin"), course_id=course_id,
            note="Værdibaseret indkøb af hjemmemonitorering til KOL-patienter.",
            now=now + timedelta(days=160))


def _procurement_inputs(final: str) -> CourseChanges:
    if final != "evaluated":
        return CourseChanges(
            yearly_cost_dkk=180_000,
            procurement_need="Færre komplikationer i de første laparoskopiske indgreb.")
    return CourseChanges.model_validate({
        "yearly_cost_dkk": 42_000,
        "procurement_need": "Borgere med svær KOL indlægges gentagne gange med forværring.",
        "procurement_value": "Færre indlæggelser og kortere indlæggelsestid; borgeren "
                             "reagerer selv tidligere på sine målinger.",
        "procurement_market": "Tre danske leverandører af KOL-telemonitorering; PulmoHome er "
                              "den eneste med dokumenteret effekt i regionen.",
    })


def _record_evidence(session: Session, world: DemoWorld, *, course_id: int,
                     host: Principal) -> None:
    for outcome in PULMO_OUTCOMES:
        services.record_outcome(session, actor=host, course_id=course_id,
                                report=OutcomeReport.model_validate(outcome))
    services.add_evidence(session, actor=host, course_id=course_id,
                          filename="indlaeggelser-pr-maaned.csv", data=PULMO_EVIDENCE,
                          dimension="prevented_admissions", keyring=world.keyring,
                          data_dir=world.data_dir)
