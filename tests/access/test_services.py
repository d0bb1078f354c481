"""Applications, review, permits and the audit chain, through the services."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace import audit
from marketplace.access import decisions, services
from marketplace.access.models import AccessRequest, Permit
from marketplace.access.ports import AccessEngine
from marketplace.access.schemas import Application
from marketplace.audit import AuditEntry
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from tests.access.conftest import application

POLICIES = decisions.load_policy_bundle()


@pytest.fixture
def engine(cohort_sizes):
    return AccessEngine(policies=POLICIES, estimate_cohort=cohort_sizes.estimate)


@pytest.fixture
def submit(session, engine):
    def run(principal, body, now=None):
        return services.submit_application(
            session, actor=principal, application=Application.model_validate(body),
            engine=engine, now=now or utcnow())

    return run


def test_a_clean_application_is_permitted_at_once(world, submit, session, cohort_sizes):
    company = world.principal(world.company_user)
    request = submit(company, application(world.herlev_data))
    assert request.status == "permitted"
    assert request.latest_decision.outcome == "permit"
    assert request.latest_decision.policy_version == POLICIES.version
    permit = request.permit
    assert permit.status == "active"
    assert permit.datasets == [{"dataset_id": world.herlev_data.id,
                                "columns": ["birth_date", "sex", "diagnosis"]}]
    assert permit.valid_until - permit.approved_at == timedelta(days=365)
    assert cohort_sizes.calls[0]["cohort"] == {"age": [40, 90]}
    assert audit.verify_audit_chain(session).ok


def test_a_denied_application_lists_every_reason(world, submit, cohort_sizes):
    cohort_sizes[world.herlev_data.id] = 3
    body = application(world.herlev_data, purpose="advertising_marketing")
    body["datasets"][0]["columns"].append("notes")
    request = submit(world.principal(world.company_user), body)
    assert request.status == "denied"
    assert request.permit is None
    rules = {reason["rule"] for reason in request.latest_decision.reasons}
    assert rules == {"prohibited.advertising_marketing", "data.unshareable_column",
                     "cohort.below_k_min"}


def test_review_goes_to_every_holder_and_all_must_approve(world, submit, session):
    body = application(world.sensitive_data, world.albertslund_data, purpose="company_research")
    request = submit(world.principal(world.company_user), body)
    assert request.status == "review"
    assert {t.holder_org_id for t in request.current_tasks} == {world.herlev.id,
                                                                world.albertslund.id}
    herlev = world.principal(world.herlev_reviewer)
    services.review_application(session, actor=herlev, request_id=request.id,
                                decision="approve", comment="", now=utcnow())
    assert request.status == "review" and request.permit is None
    services.review_application(session, actor=world.principal(world.albertslund_admin),
                                request_id=request.id, decision="approve", comment="OK",
                                now=utcnow())
    assert request.status == "permitted"
    assert request.permit.status == "active"
    with pytest.raises(Conflict):
        services.review_application(session, actor=herlev, request_id=request.id,
                                    decision="reject", comment="too late", now=utcnow())


def test_one_rejection_ends_the_application(world, submit, session):
    request = submit(world.principal(world.company_user),
                     application(world.sensitive_data, world.albertslund_data,
                                 purpose="company_research"))
    services.review_application(session, actor=world.principal(world.herlev_reviewer),
                                request_id=request.id, decision="reject",
                                comment="Formålet er for bredt.", now=utcnow())
    assert request.status == "rejected"
    assert {t.status for t in request.current_tasks} == {"rejected", "superseded"}
    with pytest.raises(Conflict):
        services.review_application(session, actor=world.principal(world.albertslund_admin),
                                    request_id=request.id, decision="approve", comment="",
                                    now=utcnow())


def test_changes_requested_then_amended_is_decided_again(world, submit, session, engine):
    company = world.principal(world.company_user)
    request = submit(company, application(world.sensitive_data, purpose="company_research"))
    services.review_application(session, actor=world.principal(world.herlev_reviewer),
                                request_id=request.id, decision="request_changes",
                                comment="Brug et ikke-kommercielt formål.", now=utcnow())
    assert request.status == "changes_requested"
    amended = services.amend_application(
        session, actor=company, request_id=request.id,
        application=Application.model_validate(application(world.herlev_data)), engine=engine,
        now=utcnow())
    assert amended.round == 2
    assert amended.status == "permitted"
    assert [d.outcome for d in amended.decisions] == ["review", "permit"]


def test_amending_may_keep_the_same_dataset(world, submit, session, engine):
    company = world.principal(world.company_user)
    request = submit(company, application(world.sensitive_data, purpose="company_research"))
    services.review_application(session, actor=world.principal(world.herlev_reviewer),
                                request_id=request.id, decision="request_changes",
                                comment="Kun køn og alder, tak.", now=utcnow())
    body = application(world.sensitive_data, purpose="company_research")
    body["datasets"][0]["columns"] = ["sex"]
    amended = services.amend_application(
        session, actor=company, request_id=request.id,
        application=Application.model_validate(body), engine=engine, now=utcnow())
    session.flush()
    assert amended.datasets == [{"dataset_id": world.sensitive_data.id, "columns": ["sex"]}]
    assert amended.status == "review"
    assert [(t.round, t.status) for t in amended.review_tasks] == [
        (1, "changes_requested"), (2, "pending")]


def test_review_needs_a_comment_to_reject_and_the_right_holder(world, submit, session):
    request = submit(world.principal(world.company_user),
                     application(world.sensitive_data, purpose="company_research"))
    with pytest.raises(Invalid, match="comment"):
        services.review_application(session, actor=world.principal(world.herlev_reviewer),
                                    request_id=request.id, decision="reject", comment=" ",
                                    now=utcnow())
    with pytest.raises(NotFound):
        services.review_application(session, actor=world.principal(world.albertslund_admin),
                                    request_id=request.id, decision="approve", comment="",
                                    now=utcnow())
    with pytest.raises(Forbidden):
        services.review_application(session, actor=world.principal(world.company_user),
                                    request_id=request.id, decision="approve", comment="",
                                    now=utcnow())
    with pytest.raises(Invalid, match="decision"):
        services.review_application(session, actor=world.principal(world.herlev_reviewer),
                                    request_id=request.id, decision="maybe", comment="x",
                                    now=utcnow())
    assert request.status == "review"


def test_companies_see_only_their_own_applications(world, submit, session):
    mine = submit(world.principal(world.company_user), application(world.herlev_data))
    rival = world.principal(world.rival_user)
    assert services.list_access_requests(session, actor=rival) == []
    with pytest.raises(NotFound):
        services.require_access_request(session, request_id=mine.id, actor=rival)
    with pytest.raises(NotFound):
        services.require_access_request(session, request_id=mine.id + 999, actor=rival)


def test_holders_see_only_applications_touching_their_datasets(world, submit, session):
    herlev_only = submit(world.principal(world.company_user), application(world.herlev_data))
    albertslund_only = submit(world.principal(world.company_user),
                              application(world.albertslund_data))
    reviewer = world.principal(world.herlev_reviewer)
    assert services.list_access_requests(session, actor=reviewer) == [herlev_only]
    with pytest.raises(NotFound):
        services.require_access_request(session, request_id=albertslund_only.id, actor=reviewer)
    operator = world.principal(world.operator_user)
    assert len(services.list_access_requests(session, actor=operator)) == 2


def test_review_queue_shows_only_the_holders_pending_work(world, submit, session):
    submit(world.principal(world.company_user), application(world.herlev_data))
    pending = submit(world.principal(world.company_user),
                     application(world.sensitive_data, purpose="company_research"))
    now = utcnow()
    queue = services.review_queue(session, actor=world.principal(world.herlev_reviewer), now=now)
    assert [item.request.id for item in queue] == [pending.id]
    assert 28 <= queue[0].working_days_left <= 30
    assert services.review_queue(session, actor=world.principal(world.albertslund_admin),
                                 now=now) == []
    late = services.review_queue(session, actor=world.principal(world.herlev_reviewer),
                                 now=now + timedelta(days=60))
    assert late[0].overdue
    with pytest.raises(Forbidden):
        services.review_queue(session, actor=world.principal(world.company_user), now=now)


def test_only_applicants_with_the_scope_may_apply(world, submit, session):
    with pytest.raises(Forbidden):
        submit(world.principal(world.herlev_reviewer), application(world.herlev_data))
    assert session.scalar(sa.select(sa.func.count()).select_from(AccessRequest)) == 0


def test_unknown_datasets_columns_and_purposes_store_nothing(world, submit, session):
    body = application(world.herlev_data, purpose="astrology")
    body["datasets"].append({"id": 99_999, "columns": ["sex"]})
    body["datasets"][0]["columns"].append("shoe_size")
    with pytest.raises(Invalid) as caught:
        submit(world.principal(world.company_user), body)
    fields = {e["field"] for e in caught.value.errors}
    assert fields == {"purpose", "datasets[0].columns", "datasets[1].id"}
    assert session.scalar(sa.select(sa.func.count()).select_from(AccessRequest)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_draft_datasets_are_unknown_to_applicants(world, submit, make_dataset):
    draft = make_dataset(world.herlev, status="draft")
    with pytest.raises(Invalid, match="datasets"):
        submit(world.principal(world.company_user), application(draft))


def test_permits_expire_by_themselves(world, submit, session):
    request = submit(world.principal(world.company_user),
                     application(world.herlev_data, duration_days=10))
    permit = request.permit
    later = utcnow() + timedelta(days=11)
    assert permit.status_at(later) == "expired"
    with pytest.raises(Conflict, match="udløbet"):
        services.require_usable_permit(session, permit_id=permit.id,
                                       actor=world.principal(world.company_user), now=later)
    assert services.require_usable_permit(session, permit_id=permit.id,
                                          actor=world.principal(world.company_user),
                                          now=utcnow()) is permit


def test_revocation_by_holder_or_operator_only(world, submit, session):
    request = submit(world.principal(world.company_user), application(world.herlev_data))
    permit = request.permit
    for outsider in (world.company_user, world.albertslund_admin, world.rival_user):
        with pytest.raises(Forbidden):
            services.revoke_permit(session, actor=world.principal(outsider), permit_id=permit.id,
                                   reason="no", now=utcnow())
    with pytest.raises(Invalid, match="reason"):
        services.revoke_permit(session, actor=world.principal(world.herlev_reviewer),
                               permit_id=permit.id, reason="", now=utcnow())
    services.revoke_permit(session, actor=world.principal(world.herlev_reviewer),
                           permit_id=permit.id, reason="Misbrug af data", now=utcnow())
    assert permit.status == "revoked"
    with pytest.raises(Conflict, match="tilbagekaldt"):
        services.require_usable_permit(session, permit_id=permit.id,
                                       actor=world.principal(world.company_user), now=utcnow())
    with pytest.raises(Conflict):
        services.revoke_permit(session, actor=world.principal(world.operator_user),
                               permit_id=permit.id, reason="again", now=utcnow())


def test_another_company_cannot_use_a_permit(world, submit, session):
    permit = submit(world.principal(world.company_user), application(world.herlev_data)).permit
    with pytest.raises(NotFound):
        services.require_usable_permit(session, permit_id=permit.id,
                                       actor=world.principal(world.rival_user), now=utcnow())


def test_duties_are_attached_to_the_permit(world, submit, make_dataset):
    dataset = make_dataset(world.herlev, data_use={"permission": "GRU", "diseases": [],
                                                   "modifiers": ["IRB", "PUB", "MOR"]})
    request = submit(world.principal(world.company_user),
                     application(dataset, ethics_approval="VEK H-24012345"))
    assert request.permit.duties == [
        {"code": "IRB", "reference": "VEK H-24012345", "dataset_id": dataset.id},
        {"code": "PUB", "dataset_id": dataset.id}, {"code": "MOR", "dataset_id": dataset.id}]


def test_register_and_level_counts(world, submit, session):
    submit(world.principal(world.company_user), application(world.herlev_data))
    submit(world.principal(world.company_user),
           application(world.herlev_data, world.albertslund_data))
    rows = services.list_register(session)
    assert len(rows) == 2
    assert rows[0].purpose.code == "public_research"
    assert services.count_permits_by_level(session) == {"national": 0, "regional": 2,
                                                        "municipal": 1}


def test_missing_cohort_estimate_is_a_deny(world, session):
    def no_version(session, *, datasets, **kwargs):
        return {dataset.id: None for dataset in datasets}

    request = services.submit_application(
        session, actor=world.principal(world.company_user),
        application=Application.model_validate(application(world.herlev_data)),
        engine=AccessEngine(policies=POLICIES, estimate_cohort=no_version), now=utcnow())
    assert request.status == "denied"
    assert {r["rule"] for r in request.latest_decision.reasons} == {"cohort.size_unknown"}


# --- the audit chain -------------------------------------------------------------------------

def drop_append_only_guard(session) -> None:
    """What an intruder with the database owner's rights would do before editing the chain.

    The entries written so far are sealed first, as they are just after a commit on PostgreSQL.
    """
    audit.seal_waiting(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("DROP TRIGGER audit_entry_append_only ON audit_entry"))
    else:
        session.execute(sa.text("DROP TRIGGER audit_entry_no_update"))
        session.execute(sa.text("DROP TRIGGER audit_entry_no_delete"))


def test_the_database_refuses_edits_and_deletions(world, submit, session):
    submit(world.principal(world.company_user), application(world.herlev_data))
    session.flush()
    for statement in (sa.update(AuditEntry).values(actor="someone else"), sa.delete(AuditEntry)):
        savepoint = session.begin_nested()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            session.execute(statement)
        savepoint.rollback()
    assert audit.verify_audit_chain(session).ok


def test_every_state_change_is_audited(world, submit, session):
    request = submit(world.principal(world.company_user),
                     application(world.sensitive_data, purpose="company_research"))
    services.review_application(session, actor=world.principal(world.herlev_reviewer),
                                request_id=request.id, decision="approve", comment="",
                                now=utcnow())
    services.revoke_permit(session, actor=world.principal(world.operator_user),
                           permit_id=request.permit.id, reason="Projektet er stoppet",
                           now=utcnow())
    actions = list(session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["access_request.submitted", "access_request.decided", "review.opened",
                       "review.approved", "permit.issued", "permit.revoked"]
    result = audit.verify_audit_chain(session)
    assert (result.ok, result.checked) == (True, 6)
    assert services.find_unaudited_state(session) is None


def test_an_edited_entry_is_detected(world, submit, session):
    submit(world.principal(world.company_user), application(world.herlev_data))
    entries = list(session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
    drop_append_only_guard(session)
    session.execute(sa.update(AuditEntry).where(AuditEntry.id == entries[1].id)
                    .values(details={"outcome": "deny"}))
    session.expire_all()
    result = audit.verify_audit_chain(session)
    assert (result.ok, result.first_broken_id) == (False, entries[1].id)
    assert "edited" in result.reason


def test_a_deleted_entry_is_detected(world, submit, session):
    submit(world.principal(world.company_user), application(world.herlev_data))
    entries = list(session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
    drop_append_only_guard(session)
    session.execute(sa.delete(AuditEntry).where(AuditEntry.id == entries[1].id))
    session.expire_all()
    result = audit.verify_audit_chain(session)
    assert (result.ok, result.first_broken_id) == (False, entries[2].id)
    assert "deleted" in result.reason


def test_cutting_off_the_newest_entries_is_detected(world, submit, session):
    request = submit(world.principal(world.company_user), application(world.herlev_data))
    services.revoke_permit(session, actor=world.principal(world.herlev_reviewer),
                           permit_id=request.permit.id, reason="Stop", now=utcnow())
    session.flush()
    assert services.find_unaudited_state(session) is None
    drop_append_only_guard(session)
    newest = session.scalar(sa.select(sa.func.max(AuditEntry.id)))
    session.execute(sa.delete(AuditEntry).where(AuditEntry.id == newest))
    session.expire_all()
    result = audit.verify_audit_chain(session)
    assert not result.ok and "cut off" in result.reason  # the anchor still counts it
    assert services.find_unaudited_state(session) == (
        f"the revocation of permit {request.permit.id}")


def test_audit_details_never_hold_a_cpr(session):
    audit.record_audit(session, actor=None, action="test.note", subject_type="test",
                          subject_id="1", details={"note": "Borger 010190-1234 og 0101901234"})
    texts = [str(d) for d in session.scalars(sa.select(AuditEntry.details))]
    assert not any("1234" in text for text in texts)
    assert any("[cpr]" in text for text in texts)
    assert audit.verify_audit_chain(session).ok


def test_a_rolled_back_savepoint_does_not_break_the_chain(session):
    audit.record_audit(session, actor=None, action="test.kept", subject_type="test",
                          subject_id="1", details={})
    savepoint = session.begin_nested()
    audit.record_audit(session, actor=None, action="test.dropped", subject_type="test",
                          subject_id="2", details={})
    savepoint.rollback()
    audit.record_audit(session, actor=None, action="test.after", subject_type="test",
                          subject_id="3", details={})
    result = audit.verify_audit_chain(session)
    assert (result.ok, result.checked) == (True, 2), result


def test_permit_status_column_never_says_expired(world, submit, session):
    permit = submit(world.principal(world.company_user),
                    application(world.herlev_data, duration_days=1)).permit
    assert session.scalar(sa.select(Permit.stored_status).where(Permit.id == permit.id)) == "active"


def test_other_writers_may_append_to_the_audit_chain_while_the_cohort_is_estimated(
        world, session, database):
    """Estimating may decrypt a whole data version; it must not hold the chain's lock."""
    if database.backend != "postgresql":
        pytest.skip("the chain's append locks are PostgreSQL locks")
    chain_free: list[bool] = []

    def estimate(session, *, datasets, **kwargs):
        # Appenders lock the chain's anchor row, or start the chain under an advisory lock.
        with database.engine.connect() as other:
            try:
                other.execute(sa.select(audit.AuditHead).with_for_update(nowait=True)).all()
            except sa.exc.OperationalError:
                chain_free.append(False)
            else:
                chain_free.append(bool(other.scalar(sa.select(
                    sa.func.pg_try_advisory_xact_lock(audit._AUDIT_LOCK)))))
            other.rollback()
        return {dataset.id: 100 for dataset in datasets}

    request = services.submit_application(
        session, actor=world.principal(world.company_user),
        application=Application.model_validate(application(world.herlev_data)),
        engine=AccessEngine(policies=POLICIES, estimate_cohort=estimate), now=utcnow())
    assert request.status == "permitted"
    assert chain_free == [True]
