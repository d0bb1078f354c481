"""A small testbeds world: one environment with a hospital and a municipality as hosts."""
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from marketplace.identity.principal import Principal
from marketplace.testbeds import services
from marketplace.testbeds.commands import SolutionDescription
from marketplace.testbeds.matching import Profile
from marketplace.testbeds.models import TestEnvironment, TestEnvironmentHost

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def actor_for(user) -> Principal:
    org = user.org
    return Principal(kind="staff", name=user.name, user_id=user.id, org_id=org.id,
                     org_slug=org.slug, org_kind=org.kind, role=user.role)


@dataclass
class World:
    environment: TestEnvironment
    other_environment: TestEnvironment
    host_user: object
    host: Principal
    other_host: Principal
    company_user: object
    company: Principal
    rival_company: Principal
    rival_company_user: object
    foreign_company: Principal
    buyer: Principal
    buyer_user: object
    solution_id: int


def _environment(session, slug, hosts, capacity=3):
    environment = TestEnvironment(
        slug=slug, name_da=f"Rehabilitering {slug}", name_en=f"Rehabilitation {slug}",
        description_da="Genoptræning med exoskeletter og hjælpemidler.",
        description_en="Rehabilitation with exoskeletons and assistive technology.",
        themes=["rehabilitation", "assistive_technology"], target_groups=["elderly"],
        resources=["patients", "citizens"], facilities=["rehabilitation_gym"],
        dataset_ids=[], trl_min=4, trl_max=9, capacity_per_year=capacity,
        contact_name="Kontakt", contact_email="kontakt@host.example",
        hosts=[TestEnvironmentHost(org_id=org.id, sector=sector, position=i)
               for i, (org, sector) in enumerate(hosts)],
    )
    session.add(environment)
    session.flush()
    return environment


@pytest.fixture
def world(session, make_org, make_user) -> World:
    host_org = make_org(kind="test_host")
    hospital = make_org(kind="regional")
    municipality = make_org(kind="municipal")
    other_host_org = make_org(kind="test_host")
    company_org = make_org(kind="company")
    rival_org = make_org(kind="company")
    foreign_org = make_org(kind="company", country="DE")
    environment = _environment(session, "rehab-test",
                               [(host_org, "knowledge_centre"), (hospital, "hospital"),
                                (municipality, "municipality")])
    other_environment = _environment(session, "other-test", [(other_host_org, "knowledge_centre")])
    host_user = make_user(host_org, role="host_member")
    company_user = make_user(company_org, role="company_member")
    buyer_user = make_user(make_org(kind="municipal"), role="holder_admin")
    company = actor_for(company_user)
    rival_user = make_user(rival_org, role="company_member")
    solution = services.create_solution_profile(
        session, actor=company, description=SolutionDescription.of(
            Profile(themes=frozenset({"rehabilitation"}), description="Exoskelet", trl=6),
            name="StrideAssist"))
    session.flush()
    return World(
        environment=environment, other_environment=other_environment, host_user=host_user,
        host=actor_for(host_user),
        other_host=actor_for(make_user(other_host_org, role="host_member")),
        company_user=company_user, company=company,
        rival_company=actor_for(rival_user),
        rival_company_user=rival_user,
        foreign_company=actor_for(make_user(foreign_org, role="company_member")),
        buyer=actor_for(buyer_user), buyer_user=buyer_user, solution_id=solution.id,
    )

