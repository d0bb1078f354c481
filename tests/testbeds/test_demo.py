"""`marketplace demo` for the testbeds domain: the five environments and courses in every state."""
import pandas as pd
import sqlalchemy as sa

from marketplace.identity.demo import DemoWorld, seed_orgs_and_users
from marketplace.identity.models import User
from marketplace.testbeds.demo import seed_demo
from marketplace.testbeds.environments import HOST_ROLES
from marketplace.testbeds.models import (
    EvidenceFile,
    Procurement,
    SolutionProfile,
    TestCourse,
    TestEnvironment,
)

COUNTED = (TestEnvironment, SolutionProfile, TestCourse, EvidenceFile, Procurement)


def counts(session):
    return [session.scalar(sa.select(sa.func.count()).select_from(m)) for m in COUNTED]


def test_demo_is_complete_and_idempotent(session, keyring, data_dir):
    world = DemoWorld(orgs=seed_orgs_and_users(session), population=pd.DataFrame(),
                      keyring=keyring, data_dir=data_dir)
    seed_demo(session, world)
    first = counts(session)
    seed_demo(session, world)
    assert counts(session) == first
    assert first[0] == 5 and first[4] == 1
    statuses = set(session.scalars(sa.select(TestCourse.status)))
    assert statuses == {"proposed", "agreed", "running", "completed", "evaluated", "declined"}
    rehab = session.scalars(sa.select(TestEnvironment).where(
        TestEnvironment.slug == "rehabilitering")).one()
    assert [h.org.slug for h in rehab.hosts] == [
        "vihtek", "rigshospitalet-glostrup", "albertslund-kommune", "broendby-kommune"]
    evaluated = session.scalars(sa.select(TestCourse).where(
        TestCourse.status == "evaluated")).one()
    assert len(evaluated.outcomes) == 4 and evaluated.yearly_cost_dkk == 42_000


def test_every_demo_environment_has_a_host_user_to_sign_in_as(session, keyring, data_dir):
    world = DemoWorld(orgs=seed_orgs_and_users(session), population=pd.DataFrame(),
                      keyring=keyring, data_dir=data_dir)
    seed_demo(session, world)
    for environment in session.scalars(sa.select(TestEnvironment)):
        hosts = session.scalars(sa.select(User.sub).where(
            User.org_id.in_(environment.host_org_ids), User.role.in_(HOST_ROLES))).all()
        assert hosts, f"{environment.slug} has no host user"
