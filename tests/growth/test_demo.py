"""The growth demo: every stage, the Herlev clinical project and the municipal direct purchase."""
from pathlib import Path

import sqlalchemy as sa

from marketplace.growth import demo
from marketplace.growth.models import ClinicalProject, Opportunity, ProcurementCase
from marketplace.identity import demo as identity_demo


def test_demo_fills_every_stage_once(session, keyring, tmp_path) -> None:
    orgs = identity_demo.seed_orgs_and_users(session)
    world = identity_demo.DemoWorld(orgs=orgs, population=None, keyring=keyring,
                                    data_dir=Path(tmp_path))
    demo.seed_demo(session, world)
    demo.seed_demo(session, world)
    stages = dict(session.execute(sa.select(Opportunity.stage, sa.func.count())
                                  .group_by(Opportunity.stage)).all())
    assert set(stages) == {"bobler", "identifikation", "kvalificering", "koncept_og_plan",
                           "eksekvering", "parkeret", "stoppet"}
    assert sum(stages.values()) == 7
    project = session.scalar(sa.select(ClinicalProject))
    assert project.department.slug == "herlev-hospital"
    opportunity = session.get(Opportunity, project.opportunity_id)
    assert [c.org.slug for c in opportunity.companies] == ["pulmo-monitor"]
    case = session.scalar(sa.select(ProcurementCase))
    assert case.route == "direct_purchase" and case.buyer.kind == "municipal"
    assert {user["sub"] for user in demo.demo_users()} == {"secretariat-chc", "steering-chc"}
