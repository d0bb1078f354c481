"""The demo gives the population a realistic, repeatable mix of consent choices."""
import sqlalchemy as sa

from marketplace.consent import demo, services
from marketplace.consent.models import ConsentEvent
from marketplace.identity import demo as identity_demo
from marketplace.identity import services as identity


def test_demo_mix_is_realistic_and_idempotent(session, keyring, data_dir):
    orgs = identity_demo.seed_orgs_and_users(session)
    population = identity_demo.seed_citizens(
        session, keyring=keyring, population=identity_demo.synthetic_population(2000))
    world = identity_demo.DemoWorld(orgs=orgs, population=population, keyring=keyring,
                                    data_dir=data_dir)
    demo.seed_demo(session, world)
    events = session.scalars(sa.select(ConsentEvent)).all()
    demo.seed_demo(session, world)
    assert session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) == len(events)

    touched = {e.citizen_id for e in events}
    assert 0.15 < len(touched) / len(population) < 0.35  # most citizens never change anything
    decisions = {(e.decision, e.scope_type, e.purpose) for e in events}
    assert ("opt_out", "all", None) in decisions
    assert ("opt_out_withdrawn", "all", None) in decisions
    assert ("permit", "all", "company_research") in decisions
    assert ("deny", "holder", "company_research") in decisions
    assert all(e.at.date() < world.today for e in events)

    mother = identity.require_citizen(session, citizen_id=int(population.iloc[0]["citizen_id"]))
    son_id = int(population.iloc[1]["citizen_id"])
    (son_event,) = [e for e in events if e.citizen_id == son_id]
    assert son_event.actor_citizen_id == mother.id and son_event.by_guardian
    standing = services.get_consents(session, actor=identity.citizen_principal(mother))
    assert {c.purpose for c in standing.choices} == {"public_research", "test_environment"}
