"""Consent services: append-only events, most-specific choices, guardians, snapshots, data uses."""
import json
import re
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from marketplace.consent import receipts, services
from marketplace.consent.commands import ConsentChoice, GuardianshipRegistration
from marketplace.consent.evaluation import included_mask
from marketplace.consent.models import ConsentEvent, DataUse, DataUseSubject, Guardianship
from marketplace.errors import Forbidden, Invalid, NotFound, Unauthorized
from marketplace.identity import services as identity
from marketplace.identity.principal import ANONYMOUS
from marketplace.web.api import field_errors
from tests.consent.conftest import CHILD_CPR

PURPOSE = "company_research"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def event_count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent))


@pytest.fixture
def citizen(make_citizen):
    return make_citizen(name="Mette Hansen")[0]


@pytest.fixture
def me(citizen, as_principal):
    return as_principal(citizen)


def _choice(*, scope_type="all", scope_id=None, purpose=PURPOSE, decision="permit"):
    return ConsentChoice.model_validate({"scope": {"type": scope_type, "id": scope_id},
                                         "purpose": purpose, "decision": decision})


def choose(session, actor, decision, *, scope_type="all", scope_id=None, purpose=PURPOSE,
           at=NOW, **kwargs):
    return services.set_consent(session, actor=actor, now=at, choice=_choice(
        scope_type=scope_type, scope_id=scope_id, purpose=purpose, decision=decision), **kwargs)


def test_purposes_come_from_the_policy_file():
    codes = {p.code for p in services.list_purposes()}
    assert {"public_research", "company_research", "reidentification"} <= codes
    assert services.require_purpose("education").duo == "GRU"
    with pytest.raises(NotFound):
        services.require_purpose("fishing")


def test_a_choice_is_recorded_with_who_when_scope_and_notice(session, citizen, me):
    consent = choose(session, me, "permit")
    assert consent.choice(purpose=PURPOSE).decision == "permit"
    (event,) = services.list_consent_events(session, actor=me)
    assert (event.citizen_id, event.actor_citizen_id) == (citizen.id, citizen.id)
    assert event.subject_key == citizen.cpr_index
    assert (event.scope_type, event.scope_id, event.purpose) == ("all", None, PURPOSE)
    assert event.notice_version == services.notice_version(session)
    assert event.at == NOW and event.channel == "web"


def test_a_published_notice_is_named_by_later_events_and_a_confirmed_choice_is_recorded_again(
        session, keyring, me, make_org, make_user):
    operator = identity.staff_principal(make_user(make_org(kind="operator"), role="operator"))
    choose(session, me, "permit")
    with pytest.raises(Forbidden):
        services.publish_notice(session, actor=me, version="2027-01", summary="x", now=NOW)
    services.publish_notice(session, actor=operator, version="2027-01",
                            summary="Nyt formål tilføjet.", now=NOW)
    assert services.notice_version(session) == "2027-01"
    choose(session, me, "permit", at=NOW + timedelta(minutes=1))  # the same choice, confirmed
    events = services.list_consent_events(session, actor=me)
    assert [e.notice_version for e in events][-1] == "2027-01"
    assert len(events) == 2
    receipt = services.receipt_facts(session, actor=me, keyring=keyring,
                                     notice_url="https://x.example/consent")
    assert receipt.taxonomy.notice_version == "2027-01"


def test_history_keeps_every_event_unchanged(session, me, make_org):
    holder = make_org(kind="regional")
    choose(session, me, "permit", at=NOW)
    choose(session, me, "deny", scope_type="holder", scope_id=holder.id,
           at=NOW + timedelta(minutes=1))
    services.set_opt_out(session, actor=me, opted_out=True, now=NOW + timedelta(minutes=2))
    services.set_opt_out(session, actor=me, opted_out=False, now=NOW + timedelta(minutes=3))
    choose(session, me, "clear", scope_type="holder", scope_id=holder.id,
           at=NOW + timedelta(minutes=4))
    history = services.consent_history(session, actor=me)
    assert [e.decision for e in history.events] == [
        "permit", "deny", "opt_out", "opt_out_withdrawn", "clear"]
    assert history.scope_names[("holder", holder.id)] == holder.name
    first = history.events[0]
    assert (first.decision, first.at) == ("permit", NOW)  # nothing rewritten
    standing = services.get_consents(session, actor=me)
    assert not standing.opt_out
    assert [(c.scope_type, c.decision) for c in standing.choices] == [("all", "permit")]


def test_repeating_the_same_choice_adds_no_event(session, me):
    revision = services.consent_revision(session)
    choose(session, me, "deny")
    assert services.consent_revision(session) > revision
    choose(session, me, "deny")
    choose(session, me, "clear", purpose="education")  # nothing to clear
    services.set_opt_out(session, actor=me, opted_out=False)  # not opted out
    assert event_count(session) == 1


@pytest.mark.parametrize("change", [
    {"decision": "maybe"},
    {"decision": None},
    {"purpose": "fishing"},
    {"purpose": "reidentification"},
    {"purpose": ["company_research"]},
    {"scope_type": "planet"},
    {"scope_type": "all", "scope_id": 3},
    {"scope_type": "holder", "scope_id": None},
    {"scope_type": "holder", "scope_id": "1"},
    {"scope_type": "holder", "scope_id": True},
    {"scope_type": "holder", "scope_id": 10**12},
    {"scope_type": "dataset", "scope_id": 999_999},
])
def test_bad_choices_are_refused_and_nothing_is_stored(session, me, change):
    arguments = {"scope_type": "all", "scope_id": None, "purpose": PURPOSE,
                 "decision": "permit"} | change
    with pytest.raises((Invalid, ValidationError)):
        services.set_consent(session, actor=me, choice=_choice(**arguments))
    assert event_count(session) == 0


def test_choices_name_only_data_holders_and_published_datasets(session, me, make_org,
                                                                make_dataset):
    company = make_org(kind="company")
    holder = make_org(kind="municipal")
    draft = make_dataset(holder, status="draft")
    for scope_type, scope_id in (("holder", company.id), ("dataset", draft.id)):
        with pytest.raises(Invalid):
            choose(session, me, "deny", scope_type=scope_type, scope_id=scope_id)
    published = make_dataset(holder)
    consent = choose(session, me, "deny", scope_type="dataset", scope_id=published.id)
    assert consent.choice(purpose=PURPOSE, scope_type="dataset", scope_id=published.id)


def test_only_signed_in_citizens_manage_consent(session, make_org, make_user):
    staff = identity.staff_principal(make_user(make_org(kind="operator"), role="operator"))
    with pytest.raises(Unauthorized):
        services.get_consents(session, actor=ANONYMOUS)
    with pytest.raises(Unauthorized):
        choose(session, staff, "permit")


def test_a_citizen_cannot_reach_another_citizens_records(session, me, make_citizen):
    other, _ = make_citizen(name="Anden Borger")
    for call in (services.get_consents, services.consent_history, services.list_data_uses,
                 services.consent_overview):
        with pytest.raises(Forbidden):
            call(session, actor=me, subject_citizen_id=other.id)
    with pytest.raises(Forbidden):
        choose(session, me, "permit", subject_citizen_id=other.id)
    with pytest.raises(Forbidden):
        choose(session, me, "permit", subject_citizen_id=123_456_789)
    assert event_count(session) == 0


# --- guardians ----------------------------------------------------------------------------------

def test_claimed_children_under_15_are_registered(session, keyring, citizen, make_citizen):
    older, older_cpr = make_citizen(cpr="0101084321")  # 18 years old
    _, own_cpr = citizen, identity.reveal_cpr(citizen, keyring=keyring)
    links = services.register_guardianships(
        session, keyring=keyring, guardian=citizen,
        child_cprs=[CHILD_CPR, older_cpr, "3213991234", "not a cpr", own_cpr], now=NOW)
    assert len(links) == 1
    wards = services.list_wards(session, guardian_citizen_id=citizen.id, now=NOW)
    assert [w.birth_date.isoformat() for w in wards] == ["2016-04-12"]
    assert older.id not in {w.id for w in wards}


def test_claim_registration_is_idempotent_and_ends_unclaimed_links(session, keyring, citizen):
    for _ in range(2):
        services.register_guardianships(session, keyring=keyring, guardian=citizen,
                                        child_cprs=[CHILD_CPR], now=NOW)
    assert session.scalar(sa.select(sa.func.count()).select_from(Guardianship)) == 1
    services.register_guardianships(session, keyring=keyring, guardian=citizen, child_cprs=[],
                                    now=NOW)
    assert services.list_wards(session, guardian_citizen_id=citizen.id, now=NOW) == []


def test_a_parent_acts_for_a_child_and_the_event_says_so(session, keyring, citizen, me):
    services.register_guardianships(session, keyring=keyring, guardian=citizen,
                                    child_cprs=[CHILD_CPR], now=NOW)
    (child,) = services.list_wards(session, guardian_citizen_id=citizen.id, now=NOW)
    choose(session, me, "deny", subject_citizen_id=child.id)
    services.set_opt_out(session, actor=me, opted_out=True, subject_citizen_id=child.id, now=NOW)
    history = services.consent_history(session, actor=me, subject_citizen_id=child.id, now=NOW)
    assert history.acting_for_child
    assert all(e.citizen_id == child.id and e.actor_citizen_id == citizen.id and e.by_guardian
               for e in history.events)
    assert services.get_consents(session, actor=me).choices == ()  # the parent's own: untouched


def test_guardianship_stops_when_the_child_turns_15(session, keyring, citizen, me):
    services.register_guardianships(session, keyring=keyring, guardian=citizen,
                                    child_cprs=[CHILD_CPR], now=NOW)
    (child,) = services.list_wards(session, guardian_citizen_id=citizen.id, now=NOW)
    birthday = datetime(2031, 4, 12, 8, tzinfo=UTC)
    choose(session, me, "permit", subject_citizen_id=child.id, at=birthday - timedelta(days=1))
    with pytest.raises(Forbidden):
        choose(session, me, "deny", subject_citizen_id=child.id, at=birthday)


def test_another_parent_cannot_act_for_the_child(session, keyring, citizen, make_citizen,
                                                 as_principal):
    services.register_guardianships(session, keyring=keyring, guardian=citizen,
                                    child_cprs=[CHILD_CPR], now=NOW)
    (child,) = services.list_wards(session, guardian_citizen_id=citizen.id, now=NOW)
    stranger = as_principal(make_citizen(name="Fremmed")[0])
    with pytest.raises(Forbidden):
        choose(session, stranger, "permit", subject_citizen_id=child.id)


def test_operator_registers_and_ends_guardianships(session, keyring, make_org, make_user,
                                                   citizen, me):
    operator = identity.staff_principal(make_user(make_org(kind="operator"), role="operator"))
    guardian_cpr = identity.reveal_cpr(citizen, keyring=keyring)
    link = services.register_guardianship(session, actor=operator, keyring=keyring, now=NOW,
                                          registration=_registration(guardian_cpr, CHILD_CPR))
    assert link.source == "operator"
    assert services.list_wards(session, guardian_citizen_id=citizen.id, now=NOW)
    # a later sign-in without the claim leaves the operator's registration alone
    services.register_guardianships(session, keyring=keyring, guardian=citizen, child_cprs=[],
                                    now=NOW)
    assert services.list_wards(session, guardian_citizen_id=citizen.id, now=NOW)
    services.end_guardianship(session, actor=operator, guardianship_id=link.id, now=NOW)
    assert services.list_wards(session, guardian_citizen_id=citizen.id, now=NOW) == []
    with pytest.raises(NotFound):
        services.end_guardianship(session, actor=operator, guardianship_id=10**6)
    with pytest.raises(Forbidden):
        services.register_guardianship(session, actor=me, keyring=keyring,
                                       registration=_registration(guardian_cpr, CHILD_CPR))


def _registration(guardian_cpr, child_cpr):
    return GuardianshipRegistration.model_validate({"guardian_cpr": guardian_cpr,
                                                    "child_cpr": child_cpr})


@pytest.mark.parametrize(("guardian_cpr", "child_cpr"), [
    ("150385-1000", "0101084321"),  # the child is 18
    ("150385-1000", "3202161234"),  # no such date
    ("x" * 5000, CHILD_CPR),
    (None, CHILD_CPR),
    (CHILD_CPR, CHILD_CPR),
])
def test_operator_registration_refuses_bad_cprs(session, keyring, make_org, make_user,
                                                guardian_cpr, child_cpr):
    operator = identity.staff_principal(make_user(make_org(kind="operator"), role="operator"))
    with pytest.raises((Invalid, ValidationError)) as error:
        services.register_guardianship(session, actor=operator, keyring=keyring, now=NOW,
                                       registration=_registration(guardian_cpr, child_cpr))
    problem = (field_errors(error.value) if isinstance(error.value, ValidationError)
               else error.value.to_problem())
    assert not re.search(r"\d{6}-?\d{4}", json.dumps(problem))
    assert session.scalar(sa.select(sa.func.count()).select_from(Guardianship)) == 0


# --- bulk evaluation ----------------------------------------------------------------------------

def test_snapshot_from_the_database_honours_scope_purpose_and_time(session, make_citizen,
                                                                   as_principal, make_org,
                                                                   make_dataset):
    holder, other_holder = make_org(kind="regional"), make_org(kind="municipal")
    dataset = make_dataset(holder)
    people = [make_citizen()[0] for _ in range(6)]
    a, b, c, d, e, f = (as_principal(p) for p in people)
    choose(session, a, "permit")
    choose(session, b, "permit")
    choose(session, b, "deny", scope_type="holder", scope_id=holder.id,
           at=NOW + timedelta(seconds=1))
    choose(session, c, "deny")
    choose(session, c, "permit", scope_type="dataset", scope_id=dataset.id,
           at=NOW + timedelta(seconds=1))
    services.set_opt_out(session, actor=d, opted_out=True, now=NOW)
    choose(session, e, "deny", scope_type="holder", scope_id=other_holder.id)
    choose(session, f, "permit", at=NOW + timedelta(days=1))  # after the approval
    snapshot = services.consent_snapshot(session, purpose=PURPOSE, holder_org_id=holder.id,
                                         dataset_id=dataset.id, as_of=NOW + timedelta(hours=1))
    keys = pd.Series([p.cpr_index for p in people], dtype="str")
    assert included_mask(keys, snapshot, consent_model="opt_in").tolist() == [
        True, False, True, False, False, False]
    assert included_mask(keys, snapshot, consent_model="opt_out").tolist() == [
        True, False, True, False, True, True]
    empty = services.consent_snapshot(session, purpose="education", holder_org_id=None,
                                      dataset_id=None, as_of=NOW - timedelta(days=1))
    assert included_mask(keys, empty, consent_model="opt_out").all()


# --- who used my data ---------------------------------------------------------------------------

def test_data_uses_are_recorded_once_and_shown_only_to_the_citizen(session, citizen, me,
                                                                   make_citizen, as_principal,
                                                                   make_org, make_dataset):
    holder, company = make_org(kind="regional"), make_org(kind="company", country="DE")
    dataset = make_dataset(holder, title="KOL-forløb")
    other = make_citizen()[0]
    arguments = dict(extract_id=7, permit_id=3, dataset_id=dataset.id, holder_org_id=holder.id,
                     company_org_id=company.id, purpose=PURPOSE, at=NOW)
    keys = [citizen.cpr_index, other.cpr_index, citizen.cpr_index, None]
    assert services.record_data_uses(session, subject_keys=keys, **arguments) == 2
    assert services.record_data_uses(session, subject_keys=keys, **arguments) == 0
    latecomer = make_citizen()[0]
    assert services.record_data_uses(session, subject_keys=[latecomer.cpr_index, *keys],
                                     **arguments) == 1
    (use,) = services.list_data_uses(session, actor=me)
    assert (use.extract_id, use.permit_id, use.dataset_title) == (7, 3, "KOL-forløb")
    assert (use.holder.id, use.company.id, use.purpose.code) == (holder.id, company.id, PURPOSE)
    assert len(services.list_data_uses(session, actor=as_principal(other))) == 1
    assert len(services.list_data_uses(session, actor=as_principal(latecomer))) == 1
    assert services.list_data_uses(session, actor=as_principal(make_citizen()[0])) == []
    # One row for the use, counting its citizens, and a narrow one per citizen.
    (stored,) = session.scalars(sa.select(DataUse))
    assert stored.persons == 3
    assert sorted(session.scalars(sa.select(DataUseSubject.subject_key)
                                  .where(DataUseSubject.use_id == stored.id))) == sorted(
        [citizen.cpr_index, other.cpr_index, latecomer.cpr_index])


def test_a_citizen_sees_an_extract_and_a_workspace_analysis_once_each(
        session, citizen, me, make_citizen, make_org, make_dataset):
    holder, company = make_org(kind="regional"), make_org(kind="company")
    dataset = make_dataset(holder, title="KOL-forløb")
    other, newcomer = make_citizen()[0], make_citizen()[0]
    facts = dict(permit_id=3, dataset_id=dataset.id, holder_org_id=holder.id,
                 company_org_id=company.id, purpose=PURPOSE)
    both = [citizen.cpr_index, other.cpr_index]
    assert services.record_data_uses(session, extract_id=7, subject_keys=both, at=NOW,
                                     **facts) == 2
    later = NOW + timedelta(hours=1)
    assert services.record_data_uses(session, workspace_job_id=21, subject_keys=both, at=later,
                                     **facts) == 2
    # Every job of the permit sees the same persons: a second job names no one again, but a
    # citizen it analysed first is recorded under it.
    assert services.record_data_uses(session, workspace_job_id=22, subject_keys=both,
                                     at=later + timedelta(hours=1), **facts) == 0
    assert services.record_data_uses(session, workspace_job_id=23,
                                     subject_keys=[*both, newcomer.cpr_index],
                                     at=later + timedelta(hours=2), **facts) == 1
    uses = services.list_data_uses(session, actor=me)
    assert [(u.extract_id, u.workspace_job_id, u.at) for u in uses] == [
        (None, 21, later), (7, None, NOW)]
    assert all((u.permit_id, u.dataset_id) == (3, dataset.id) for u in uses)
    (late,) = services.list_data_uses(session, actor=identity.citizen_principal(newcomer))
    assert late.workspace_job_id == 23
    assert sorted(session.scalars(sa.select(DataUse.persons))) == [1, 2, 2]


def test_malformed_subject_keys_are_refused(session, make_org, make_dataset):
    holder = make_org(kind="regional")
    with pytest.raises(Invalid):
        services.record_data_uses(
            session, extract_id=1, permit_id=1, dataset_id=make_dataset(holder).id,
            holder_org_id=holder.id, company_org_id=holder.id, purpose=PURPOSE,
            subject_keys=["0703851234"], at=NOW)
    assert session.scalar(sa.select(sa.func.count()).select_from(DataUse)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(DataUseSubject)) == 0


# --- receipts and the page overview -------------------------------------------------------------

def test_receipt_facts_use_a_pseudonym_never_the_cpr(session, keyring, citizen, me, make_org):
    holder = make_org(kind="regional")
    choose(session, me, "deny", scope_type="holder", scope_id=holder.id)
    facts = services.receipt_facts(session, actor=me, keyring=keyring,
                                   notice_url="http://localhost/consent", now=NOW)
    assert facts.holders == {holder.id: (holder.slug, holder.name)}
    assert facts.pseudonym not in (citizen.cpr_index, str(citizen.id))
    assert facts.pseudonym == services.citizen_pseudonym(citizen, keyring=keyring)
    cpr = identity.reveal_cpr(citizen, keyring=keyring)
    for document in (receipts.fhir_bundle(facts), receipts.consent_record(facts)):
        text = json.dumps(document)
        assert cpr not in text and cpr[:6] not in text and citizen.cpr_index not in text


def test_overview_explains_each_purpose_and_lists_exceptions(session, me, make_org,
                                                             make_dataset):
    holder = make_org(kind="national", name="Sundhedsdatastyrelsen")
    make_org(kind="company")
    dataset = make_dataset(holder)
    choose(session, me, "permit")
    choose(session, me, "deny", scope_type="dataset", scope_id=dataset.id)
    overview = services.consent_overview(session, actor=me, now=NOW)
    row = next(r for r in overview.purposes if r.purpose.code == PURPOSE)
    assert row.general.decision == "permit"
    assert [(x.choice.decision, x.scope_name) for x in row.exceptions] == [
        ("deny", dataset.title)]
    assert {p.code for p in overview.prohibited} >= {"reidentification"}
    assert all(org.is_data_holder for org in overview.holders)
    assert (dataset.id, dataset.title, None) in overview.datasets
    assert not overview.acting_for_child


def test_a_child_under_15_can_read_but_not_change_their_own_consent(session, make_citizen,
                                                                    as_principal):
    child = as_principal(make_citizen(cpr=CHILD_CPR, name="Oscar")[0])
    assert services.get_consents(session, actor=child, now=NOW).choices == ()
    with pytest.raises(Forbidden):
        choose(session, child, "permit")
    with pytest.raises(Forbidden):
        services.set_opt_out(session, actor=child, opted_out=True, now=NOW)
    assert event_count(session) == 0


def test_a_snapshot_never_misses_an_event_that_commits_late(database, keyring):
    """Two citizens choose at once; the one with the lower event id commits last. The cached
    snapshot must still show that choice once it is committed (PostgreSQL, real sessions)."""
    import threading

    from sqlalchemy.orm import Session as OrmSession

    if database.backend != "postgresql":
        pytest.skip("concurrent commits need separate PostgreSQL sessions")
    engine = database.engine
    cprs = ("0101801234", "0202801234")
    with OrmSession(engine) as setup:
        early, late = (identity.register_citizen(setup, keyring=keyring, cpr=c) for c in cprs)
        setup.commit()
        people = [(p.id, p.cpr_index) for p in (early, late)]
    try:
        slow, fast = OrmSession(engine), OrmSession(engine)
        as_of = datetime.now(UTC) + timedelta(days=1)
        # The slow writer takes the lower event id and keeps its transaction open.
        services.set_consent(slow, actor=identity.citizen_principal(slow.get(
            type(early), people[0][0])), choice=_choice(decision="deny"))

        def fast_writer() -> None:
            services.set_consent(fast, actor=identity.citizen_principal(fast.get(
                type(late), people[1][0])), choice=_choice(decision="deny"))
            fast.commit()

        thread = threading.Thread(target=fast_writer)
        thread.start()
        thread.join(timeout=1.0)  # commits now without the fix; waits for the slow one with it
        with OrmSession(engine) as reader:
            services.consent_snapshot(reader, purpose=PURPOSE, holder_org_id=None,
                                      dataset_id=None, as_of=as_of)
        slow.commit()
        thread.join()
        with OrmSession(engine) as reader:
            snapshot = services.consent_snapshot(reader, purpose=PURPOSE, holder_org_id=None,
                                                 dataset_id=None, as_of=as_of)
        keys = pd.Series([key for _, key in people], dtype="str")
        assert included_mask(keys, snapshot, consent_model="opt_out").tolist() == [False, False]
    finally:
        slow.close()
        fast.close()
        with OrmSession(engine) as cleanup:
            ids = [citizen_id for citizen_id, _ in people]
            cleanup.execute(sa.delete(ConsentEvent).where(ConsentEvent.citizen_id.in_(ids)))
            cleanup.execute(sa.delete(type(early)).where(type(early).id.in_(ids)))
            cleanup.commit()
