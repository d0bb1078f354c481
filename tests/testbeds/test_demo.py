"""`marketplace demo` for the testbeds domain: the five environments and courses in every state."""
import pandas as pd
import sqlalchemy as sa

from marketplace.identity.demo import DemoWorld, seed_orgs_and_users
from marketplace.testbeds.demo import seed_demo
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
