"""Business rules of the access domain: applications, the engine's decision, review, permits,
the public register and the audit chain.

Every state change writes an audit entry in the caller's transaction. A denied application is a
stored decision, not an exception; only malformed or unauthorised calls raise.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, load_only, selectinload

from marketplace.access import decisions, notices, sla
from marketplace.access.models import (
    AccessDecision,
    AccessRequest,
    Permit,
    RequestedDataset,
    ReviewTask,
)
from marketplace.access.paging import Page, Paging
from marketplace.access.ports import AccessEngine, TestBeds
from marketplace.audit import (
    AuditEntry,
    actor_label,
    audit_entries,
    audit_trail,
    record_audit,
    record_audits,
)
from marketplace.catalog import conditions as catalog_conditions
from marketplace.catalog import search as catalog_search
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Dataset
from marketplace.consent import services as consent_services
from marketplace.cpr import contains_cpr
from marketplace.db import insert_new, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity.models import Organisation
from marketplace.identity.principal import Principal
from marketplace.languages import N_

if TYPE_CHECKING:
    from marketplace.access.schemas import Application

REVIEW_DECISIONS = ("approve", "reject", "request_changes")
MAX_COMMENT = 5_000


class _AuditLog(list[dict[str, Any]]):
    """Audit entries of one act, appended to the chain together just before the commit.

    Appending takes the chain's lock until the transaction ends; writing the entries last keeps
    every other audited write waiting only for the inserts and the commit, not for the engine.
    """

    def add(self, *, actor: Principal | None, action: str, subject_type: str, subject_id: str,
            details: dict[str, Any]) -> None:
        self.append({"actor": actor, "action": action, "subject_type": subject_type,
                     "subject_id": subject_id, "details": details})

    def write(self, session: Session) -> None:
        record_audits(session, self)
        self.clear()


# --- who may do what ------------------------------------------------------------------------

def _require_applicant(actor: Principal) -> int:
    if not (actor.has_scope("access:request") and actor.org_id is not None):
        raise Forbidden("ansøgning om data kræver adgangsområdet access:request")
    return actor.org_id


def _is_reviewer(actor: Principal) -> bool:
    return actor.has_scope("access:review") and actor.org_id is not None


def can_view_request(actor: Principal, request: AccessRequest) -> bool:
    """The applicant's organisation, a reviewer of a requested dataset's holder, or the operator.

    A holder's systems and staff see applications only with the review scope: a client made
    for publishing (catalog:write) has no business reading companies' applications.
    """
    return (actor.is_operator or actor.belongs_to(request.company_org_id)
            or (_is_reviewer(actor) and actor.org_id in request.holder_org_ids))


# --- finders --------------------------------------------------------------------------------

def get_access_request(session: Session, *, request_id: int) -> AccessRequest | None:
    return session.get(AccessRequest, request_id)


def require_access_request(session: Session, *, request_id: int, actor: Principal
                           ) -> AccessRequest:
    """Return the application; raise NotFound, also when the actor may not see it (another
    organisation's id does not reveal that it exists)."""
    request = get_access_request(session, request_id=request_id)
    if request is None or not can_view_request(actor, request):
        raise NotFound("ansøgning {id} findes ikke", id=request_id)
    return request


def list_access_requests(session: Session, *, actor: Principal) -> list[AccessRequest]:
    """Applications the actor may see: own organisation's, or touching its datasets."""
    return list(session.scalars(_visible_requests(actor)))


def page_access_requests(session: Session, *, actor: Principal,
                         paging: Paging) -> Page[AccessRequest]:
    """One page of the applications the actor may see, newest first, with their total."""
    query = _visible_requests(actor)
    total = session.scalar(sa.select(sa.func.count()).select_from(
        query.with_only_columns(AccessRequest.id).order_by(None).subquery()))
    items = list(session.scalars(query.offset(paging.offset).limit(paging.per_page)))
    return Page(items, total or 0, paging.page, paging.per_page)


def _visible_requests(actor: Principal) -> sa.Select:
    query = sa.select(AccessRequest).order_by(AccessRequest.id.desc()).options(
        selectinload(AccessRequest.items), selectinload(AccessRequest.decisions),
        selectinload(AccessRequest.review_tasks), selectinload(AccessRequest.permit))
    if actor.is_operator:
        return query
    if actor.org_id is None:
        return query.where(sa.false())
    touching = sa.select(RequestedDataset.access_request_id).where(
        RequestedDataset.holder_org_id == actor.org_id)
    return query.where(sa.or_(AccessRequest.company_org_id == actor.org_id,
                              AccessRequest.id.in_(touching)))


def get_permit(session: Session, *, permit_id: int) -> Permit | None:
    return session.get(Permit, permit_id)


def require_permit(session: Session, *, permit_id: int) -> Permit:
    permit = get_permit(session, permit_id=permit_id)
    if permit is None:
        raise NotFound("tilladelse {id} findes ikke", id=permit_id)
    return permit


def _permit_holder_ids(session: Session, permit: Permit) -> set[int]:
    return set(session.scalars(sa.select(Dataset.publisher_org_id).where(
        Dataset.id.in_(permit.dataset_ids))))


def can_view_permit(session: Session, *, permit: Permit, actor: Principal) -> bool:
    """Whether the actor may know the permit: its company, a holder of a covered dataset, the
    operator."""
    return (actor.is_operator or actor.belongs_to(permit.company_org_id)
            or actor.org_id in _permit_holder_ids(session, permit))


def require_visible_permit(session: Session, *, permit_id: int, actor: Principal) -> Permit:
    """Return the permit for its company, a holder of a covered dataset or the operator; raise
    NotFound for anyone else (another organisation's id does not reveal that it exists)."""
    permit = require_permit(session, permit_id=permit_id)
    if not can_view_permit(session, permit=permit, actor=actor):
        raise NotFound("tilladelse {id} findes ikke", id=permit_id)
    return permit


PERMIT_REFUSALS = {"expired": N_("tilladelsen er udløbet"),
                   "revoked": N_("tilladelsen er tilbagekaldt")}


def unusable_permit(status: str) -> Conflict:
    """The refusal for using a permit that is not active, in words for its status."""
    return Conflict(PERMIT_REFUSALS.get(status, N_("tilladelsen er ikke gyldig")))


def require_usable_permit(session: Session, *, permit_id: int, actor: Principal,
                          now: datetime) -> Permit:
    """Return a permit the actor's company may use now; raise NotFound (a permit the actor may
    not know), Forbidden (one it knows but may not use), Conflict (not active)."""
    permit = require_visible_permit(session, permit_id=permit_id, actor=actor)
    if not (actor.is_operator or actor.belongs_to(permit.company_org_id)):
        raise Forbidden("kun virksomheden med tilladelsen kan bruge den")
    status = permit.status_at(now)
    if status != "active":
        raise unusable_permit(status)
    return permit


# --- applying -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Resolved:
    purpose: Any
    datasets: list[tuple[Dataset, tuple[str, ...]]]
    test_environment_id: int | None
    test_course_id: int | None


def _resolve(session: Session, application: Application, *, company_org_id: int,
             test_beds: TestBeds) -> _Resolved:
    """Check what the application names exists; raise Invalid listing everything unknown,
    Forbidden for another company's test course, Conflict for a closed one.

    Messages are Danish source text without values (the field names the culprit), so the edge
    can give them in the caller's language.
    """
    errors: list[dict[str, str]] = []
    purpose = consent_services.get_purpose(application.purpose)
    if purpose is None:
        errors.append({"field": "purpose", "message": "ukendt formål; se /api/v1/purposes"})
    resolved = []
    found = catalog_services.datasets_for_decision(
        session, dataset_ids=[choice.id for choice in application.datasets])
    for index, choice in enumerate(application.datasets):
        dataset = found.get(choice.id)
        if dataset is None or dataset.status == "draft":
            errors.append({"field": f"datasets[{index}].id",
                           "message": N_("intet udgivet datasæt med det nummer")})
            continue
        names = {column["name"] for column in dataset.columns}
        if any(name not in names for name in choice.columns):
            errors.append({"field": f"datasets[{index}].columns",
                           "message": N_("datasættet har ikke alle de valgte kolonner")})
        resolved.append((dataset, tuple(choice.columns)))
    if application.test_environment is not None and not test_beds.environment_exists(
            session, environment_id=application.test_environment):
        errors.append({"field": "test_environment",
                       "message": N_("intet testmiljø med det nummer")})
    environment_id = _course_environment(session, application, company_org_id, errors,
                                         test_beds=test_beds)
    if errors:
        raise Invalid("ansøgningen nævner noget, der ikke findes: {fields}",
                      fields=", ".join(e["field"] for e in errors), errors=errors)
    return _Resolved(purpose, resolved, environment_id, application.test_course)


def _course_environment(session: Session, application: Application, company_org_id: int,
                        errors: list[dict[str, str]], *, test_beds: TestBeds) -> int | None:
    """The test environment the application is for: the one it names, else its course's.

    A data application serves a test course only while the course is the applicant's own and
    open; the test beds raise Forbidden or Conflict otherwise.
    """
    if application.test_course is None:
        return application.test_environment
    try:
        environment_id = test_beds.course_environment(
            session, course_id=application.test_course, company_org_id=company_org_id)
    except NotFound:
        errors.append({"field": "test_course", "message": N_("intet testforløb med det nummer")})
        return application.test_environment
    named = application.test_environment
    if named is not None and named != environment_id:
        errors.append({"field": "test_course",
                       "message": N_("testforløbet foregår i et andet testmiljø")})
    return environment_id


def _cohort_sizes(session: Session, *, datasets: Sequence[Dataset], cohort: dict[str, Any],
                  purpose: str, engine: AccessEngine, now: datetime) -> dict[int, int | None]:
    """People per published dataset after consent and cohort filters; None where it cannot be
    known (a withdrawn dataset has no cohort to offer).

    Runs before anything is written: the estimate may decrypt a data version, and no audited
    write of anyone else should wait for that behind this transaction.
    """
    published = [dataset for dataset in datasets if dataset.status == "published"]
    sizes = engine.estimate_cohort(session, datasets=published, cohort=cohort, purpose=purpose,
                                   as_of=now) if published else {}
    return {dataset.id: sizes.get(dataset.id) for dataset in datasets}


RESUBMITTABLE = ("denied", "rejected")


def resubmission_source(session: Session, *, actor: Principal, request_id: int) -> AccessRequest:
    """The closed application the actor's company may amend and send again as a new one.

    Raises NotFound, Forbidden (not the applicant) or Conflict (not denied or rejected: one
    with requested changes is amended in place, others are still open or permitted).
    """
    company_org_id = _require_applicant(actor)
    request = require_access_request(session, request_id=request_id, actor=actor)
    if request.company_org_id != company_org_id:
        raise Forbidden("kun ansøgeren kan sende ansøgningen igen")
    if request.status not in RESUBMITTABLE:
        raise Conflict("kun en afslået eller afvist ansøgning kan sendes igen som en ny")
    return request


def submit_application(session: Session, *, actor: Principal, application: Application,
                       engine: AccessEngine, now: datetime,
                       resubmits: int | None = None) -> AccessRequest:
    """Store an application and decide it at once; raise Forbidden or Invalid (nothing stored).

    `resubmits` names the denied or rejected application this one amends; the audit trail
    links the two (Forbidden or Conflict when it cannot be resubmitted).
    """
    company_org_id = _require_applicant(actor)
    if resubmits is not None:
        resubmission_source(session, actor=actor, request_id=resubmits)
    resolved = _resolve(session, application, company_org_id=company_org_id,
                        test_beds=engine.test_beds)
    sizes = _cohort_sizes(session, datasets=[d for d, _ in resolved.datasets],
                          cohort=application.cohort.to_dict(), purpose=application.purpose,
                          engine=engine, now=now)
    # Empty collections from the start: a new application has none to load after the flush.
    # The company was read when the caller signed in: no query for it here.
    request = AccessRequest(company_org_id=company_org_id,
                            company=session.get(Organisation, company_org_id),
                            submitted_by=actor_label(actor),
                            status="review", round=1, submitted_at=now, created_at=now,
                            items=[], decisions=[], review_tasks=[], permit=None)
    _fill(request, application, resolved)
    outcome = _decide(request, resolved, sizes=sizes, policies=engine.policies, now=now)
    _write_new(session, request)
    log = _AuditLog()
    details = _summary(request) | ({"resubmits": resubmits} if resubmits is not None else {})
    log.add(actor=actor, action="access_request.submitted", subject_type="access_request",
            subject_id=str(request.id), details=details)
    _log_outcome(log, request, outcome)
    _notify_outcome(session, request, outcome)
    log.write(session)
    return request


def _write_new(session: Session, request: AccessRequest) -> None:
    """Write a new application with its datasets, its decision and its permit or review tasks,
    a statement per table, and keep the objects in the session as written.

    Without the unit of work: sorting out this graph cost it more than the inserts themselves,
    on the busiest write of the service.
    """
    insert_new(session, [request])
    children: tuple[list[RequestedDataset], list[AccessDecision], list[ReviewTask]] = (
        request.items, request.decisions, request.review_tasks)
    for rows in children:
        for child in rows:
            child.access_request_id = request.id
        insert_new(session, rows)
    if request.permit is not None:
        request.permit.access_request_id = request.id
        insert_new(session, [request.permit])
    session.add(request)  # persistent as written: nothing left to flush


def amend_application(session: Session, *, actor: Principal, request_id: int,
                      application: Application, engine: AccessEngine,
                      now: datetime) -> AccessRequest:
    """Resubmit an application the holders asked to change; it is decided afresh."""
    _require_applicant(actor)
    request = require_access_request(session, request_id=request_id, actor=actor)
    if not (actor.belongs_to(request.company_org_id) or actor.is_operator):
        raise Forbidden("kun ansøgeren kan rette ansøgningen")
    if request.status != "changes_requested":
        raise Conflict("kun en ansøgning, hvor der er bedt om ændringer, kan rettes")
    resolved = _resolve(session, application, company_org_id=request.company_org_id,
                        test_beds=engine.test_beds)
    sizes = _cohort_sizes(session, datasets=[d for d, _ in resolved.datasets],
                          cohort=application.cohort.to_dict(), purpose=application.purpose,
                          engine=engine, now=now)
    request.round += 1
    request.submitted_at = now
    _fill(request, application, resolved)
    outcome = _decide(request, resolved, sizes=sizes, policies=engine.policies, now=now)
    session.flush()
    log = _AuditLog()
    log.add(actor=actor, action="access_request.amended", subject_type="access_request",
            subject_id=str(request.id), details=_summary(request))
    _log_outcome(log, request, outcome)
    _notify_outcome(session, request, outcome)
    log.write(session)
    return request


def _fill(request: AccessRequest, application: Application, resolved: _Resolved) -> None:
    request.title = application.title
    request.description = application.description
    request.purpose = application.purpose
    request.diseases = list(application.diseases)
    request.cohort = application.cohort.to_dict()
    request.duration_days = application.duration_days
    request.pseudonymised = application.pseudonymised
    request.pseudonymisation_justification = application.pseudonymisation_justification
    request.safeguards = application.safeguards
    request.ethics_approval = application.ethics_approval
    request.processors = [person.model_dump() for person in application.processors]
    request.test_environment_id = resolved.test_environment_id
    request.test_course_id = resolved.test_course_id
    # Keep the rows of datasets asked for again: (request, dataset) is unique.
    existing = {item.dataset_id: item for item in request.items}
    items = []
    for dataset, columns in resolved.datasets:
        item = existing.get(dataset.id) or RequestedDataset(
            dataset_id=dataset.id, holder_org_id=dataset.publisher_org_id)
        item.columns = list(columns)
        items.append(item)
    request.items = items


def _summary(request: AccessRequest) -> dict[str, Any]:
    return {"title": request.title, "purpose": request.purpose, "round": request.round,
            "company": request.company_org_id, "datasets": request.datasets,
            "duration_days": request.duration_days, "pseudonymised": request.pseudonymised}


def application_facts(*, request: AccessRequest, datasets: Iterable[Dataset], purpose: Any,
                      company: Organisation, sizes: dict[int, int | None], now: datetime
                      ) -> tuple[decisions.RequesterFacts, decisions.ApplicationFacts,
                                 list[decisions.DatasetRequest]]:
    """Everything the engine needs to know about one application."""
    requester = decisions.RequesterFacts(slug=company.slug, kind=company.kind,
                                         country=company.country, accredited=company.accredited)
    facts = decisions.ApplicationFacts(
        purpose=decisions.purpose_facts(request.purpose, purpose),
        diseases=tuple(request.diseases), duration_days=request.duration_days,
        pseudonymised=request.pseudonymised,
        pseudonymisation_justified=bool(request.pseudonymisation_justification),
        ethics_approval=bool(request.ethics_approval),
        for_test_environment=request.test_environment_id is not None)
    columns = {item.dataset_id: tuple(item.columns) for item in request.items}
    requests = []
    for dataset in datasets:
        dataset_facts = decisions.dataset_facts(
            dataset_id=dataset.id, status=dataset.status,
            access_rights=dataset.access_rights, data_use=dataset.data_use,
            k_min=dataset.k_min, columns=dataset.columns, subject_column=dataset.subject_column,
            purposes=(dataset.data_use or {}).get("purposes") or (), as_of=now.date())
        requests.append(decisions.DatasetRequest(dataset_facts, columns[dataset.id],
                                                 sizes.get(dataset.id)))
    return requester, facts, requests


@dataclass(frozen=True)
class _Outcome:
    """What the engine decided and when the holders' review is due, if it opened one."""

    decision: decisions.Decision
    review_due: datetime | None = None


def _decide(request: AccessRequest, resolved: _Resolved, *, sizes: dict[int, int | None],
            policies: decisions.PolicyBundle, now: datetime) -> _Outcome:
    """Ask the engine and lay its decision on the application: a permit, a close, or review.

    Only in memory: the caller flushes it all at once and then writes the audit entries.
    """
    datasets = [dataset for dataset, _ in resolved.datasets]
    requester, facts, requests = application_facts(
        request=request, datasets=datasets, purpose=resolved.purpose,
        company=request.company, sizes=sizes, now=now)
    decision = decisions.decide(policies, requester=requester, application=facts,
                                requests=requests)
    request.decisions.append(AccessDecision(
        round=request.round, outcome=decision.outcome,
        reasons=[reason.to_json() for reason in decision.reasons],
        policy_version=decision.policy_version, decided_at=now,
        cohort_sizes={str(r.dataset.id): r.cohort_size for r in requests}))
    if decision.outcome == "permit":
        _issue_permit(request, datasets, now=now)
    elif decision.outcome == "deny":
        request.status, request.closed_at = "denied", now
    else:
        return _Outcome(decision, _open_review(request, now=now))
    return _Outcome(decision)


def _log_outcome(log: _AuditLog, request: AccessRequest, outcome: _Outcome) -> None:
    decision = outcome.decision
    log.add(actor=None, action="access_request.decided", subject_type="access_request",
            subject_id=str(request.id),
            details={"outcome": decision.outcome, "rules": sorted(decision.rule_ids),
                     "policy_version": decision.policy_version, "round": request.round})
    if decision.outcome == "permit" and request.permit is not None:
        _log_permit(log, request, request.permit)
    elif outcome.review_due is not None:
        log.add(actor=None, action="review.opened", subject_type="access_request",
                subject_id=str(request.id),
                details={"round": request.round, "holders": sorted(request.holder_org_ids),
                         "due_at": outcome.review_due.isoformat()})


def _notify_outcome(session: Session, request: AccessRequest, outcome: _Outcome) -> None:
    """Tell the applicant about a decision, or the holders about the review it opened."""
    if request.status != "review":
        notices.application_decided(session, request)
    elif outcome.review_due is not None:
        notices.review_opened(session, request, due=outcome.review_due)


def _log_permit(log: _AuditLog, request: AccessRequest, permit: Permit) -> None:
    log.add(actor=None, action="permit.issued", subject_type="permit", subject_id=str(permit.id),
            details={"access_request_id": request.id, "purpose": permit.purpose,
                     "datasets": permit.datasets, "duties": permit.duties,
                     "valid_until": permit.valid_until.isoformat()})


def _open_review(request: AccessRequest, *, now: datetime) -> datetime:
    """Open a review task for each holder; return when the review is due."""
    for task in request.review_tasks:
        if task.status == "pending":
            task.status = "superseded"
    request.status = "review"
    due = sla.add_working_days(now, sla.REVIEW_WORKING_DAYS)
    for holder_org_id in sorted(request.holder_org_ids):
        request.review_tasks.append(ReviewTask(
            holder_org_id=holder_org_id, round=request.round, status="pending", created_at=now,
            due_at=due))
    return due


def _issue_permit(request: AccessRequest, datasets: list[Dataset], *, now: datetime) -> Permit:
    duties = []
    for dataset in datasets:
        for duty in decisions.permit_duties(dataset.data_use):
            if duty["code"] == "IRB":
                duty["reference"] = request.ethics_approval
            duties.append({**duty, "dataset_id": dataset.id})
    decided = request.latest_decision
    if decided is None:
        raise Conflict("en tilladelse udstedes kun på en gemt afgørelse")
    permit = Permit(
        company_org_id=request.company_org_id, company=request.company,
        purpose=request.purpose, datasets=request.datasets, cohort=dict(request.cohort),
        k_min=None, pseudonymised=request.pseudonymised, duties=duties,
        policy_version=decided.policy_version,
        test_environment_id=request.test_environment_id,
        test_course_id=request.test_course_id, approved_at=now,
        valid_until=now + timedelta(days=request.duration_days), stored_status="active")
    request.permit = permit
    request.status, request.closed_at = "permitted", now
    return permit


@dataclass(frozen=True)
class FormOptions:
    datasets: list[Dataset]
    total: int
    purposes: list[Any]
    test_environments: list[Any]
    test_courses: list[Any]  # the applicant's open test courses
    conditions: dict[int, list[catalog_conditions.Condition]]  # per dataset id


FORM_DATASETS = 20


def application_form_options(session: Session, *, test_beds: TestBeds, q: str = "",
                             chosen: Iterable[int] = (),
                             company_org_id: int | None = None) -> FormOptions:
    """What the application form offers: the datasets already chosen, then published ones
    matching `q` (a page of them), each with its conditions in words; the lawful purposes,
    the test environments and the company's open test courses."""
    found = catalog_services.search_datasets(
        session, query=catalog_search.SearchQuery(q=q[:200], per_page=FORM_DATASETS))
    first = [d for i in dict.fromkeys(chosen)
             if (d := catalog_services.get_dataset(session, dataset_id=i)) is not None
             and d.status == "published"]
    firsts = {d.id for d in first}
    datasets = first + [d for d in found.items if d.id not in firsts]
    return FormOptions(
        datasets=datasets, total=found.total,
        purposes=[p for p in consent_services.list_purposes() if not p.prohibited],
        test_environments=list(test_beds.environments(session)),
        test_courses=(list(test_beds.open_courses(session, company_org_id=company_org_id))
                      if company_org_id is not None else []),
        conditions={d.id: catalog_conditions.describe_conditions(d.data_use) for d in datasets})


# --- review ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueItem:
    task: ReviewTask
    request: AccessRequest
    working_days_left: int

    @property
    def overdue(self) -> bool:
        return self.working_days_left < 0


def review_queue(session: Session, *, actor: Principal, now: datetime) -> list[QueueItem]:
    """Pending reviews for the actor's organisation, the most urgent first."""
    if not _is_reviewer(actor):
        raise Forbidden("sagsbehandling kræver adgangsområdet access:review")
    query = (sa.select(ReviewTask).join(ReviewTask.access_request)
             .where(ReviewTask.status == "pending", AccessRequest.status == "review",
                    ReviewTask.round == AccessRequest.round)
             .order_by(ReviewTask.due_at, ReviewTask.id))
    if not actor.is_operator:
        query = query.where(ReviewTask.holder_org_id == actor.org_id)
    return [QueueItem(task, task.access_request,
                      sla.working_days_left(now, task.due_at))
            for task in session.scalars(query)]


def review_application(session: Session, *, actor: Principal, request_id: int, decision: str,
                       comment: str, now: datetime) -> AccessRequest:
    """Record one holder's approval, rejection or request for changes.

    All holders must approve for the permit; one rejection ends the application; a request for
    changes returns it to the applicant. Raises Forbidden, Invalid or Conflict.
    """
    if not _is_reviewer(actor):
        raise Forbidden("sagsbehandling kræver adgangsområdet access:review")
    request = require_access_request(session, request_id=request_id, actor=actor)
    # Holders reviewing at the same moment must each see the others' decisions, or the last
    # approval could miss that every task is approved and no permit would ever be issued.
    session.execute(sa.select(AccessRequest.id).where(AccessRequest.id == request.id)
                    .with_for_update())
    session.refresh(request)
    for task in request.review_tasks:
        session.refresh(task)
    comment = (comment or "").strip()
    # Messages are Danish source text; the edge gives them in the caller's language.
    if decision not in REVIEW_DECISIONS:
        raise Invalid.field("decision", N_("vælg godkend, afvis eller bed om ændringer"))
    if decision != "approve" and not comment:
        raise Invalid.field("comment", N_("forklar ansøgeren afgørelsen"))
    if len(comment) > MAX_COMMENT:
        raise Invalid.field("comment", N_("højst {max_length} tegn"), max_length=MAX_COMMENT)
    if contains_cpr(comment):
        raise Invalid.field("comment", N_("fjern CPR-numre fra teksten"))
    if request.status != "review":
        raise Conflict("ansøgningen venter ikke på sagsbehandling")
    found = next((t for t in request.current_tasks if t.holder_org_id == actor.org_id), None)
    if found is None:
        raise Forbidden("din organisation har ingen af de ansøgte datasæt")
    task = found
    if task.status != "pending":
        raise Conflict("din organisation har allerede behandlet denne runde")
    task.status = {"approve": "approved", "reject": "rejected",
                   "request_changes": "changes_requested"}[decision]
    task.comment, task.reviewer, task.decided_at = comment, actor_label(actor), now
    log = _AuditLog()
    log.add(actor=actor, action=f"review.{task.status}",
            subject_type="access_request", subject_id=str(request.id),
            details={"round": request.round, "holder": actor.org_id, "comment": comment})
    if decision == "approve":
        if all(t.status == "approved" for t in request.current_tasks):
            datasets = [catalog_services.require_dataset(session, dataset_id=i)
                        for i in request.dataset_ids]
            permit = _issue_permit(request, datasets, now=now)
            session.flush()
            _log_permit(log, request, permit)
        log.write(session)
        notices.application_decided(session, request, actor=actor)
        return request
    log.write(session)
    for other in request.current_tasks:
        if other.status == "pending":
            other.status = "superseded"
    request.status = "rejected" if decision == "reject" else "changes_requested"
    if decision == "reject":
        request.closed_at = now
    notices.application_decided(session, request, actor=actor)
    return request


@dataclass(frozen=True)
class RequestDetail:
    request: AccessRequest
    datasets: dict[int, Dataset]
    purpose: Any
    trail: list[AuditEntry]
    test_course: Any  # the TestCourse the application serves, if any
    days_left: dict[int, int]  # working days left, per pending review task
    can_review: bool
    can_amend: bool
    can_resubmit: bool  # denied or rejected: amend it as a new application
    can_use_permit: bool  # the company may open its workspace or order extracts
    can_revoke: bool
    resubmits: int | None  # the denied or rejected application this one amends


def request_detail(session: Session, *, request_id: int, actor: Principal, test_beds: TestBeds,
                   now: datetime) -> RequestDetail:
    """An application with what the actor may do with it and its audit trail."""
    request = require_access_request(session, request_id=request_id, actor=actor)
    datasets = {d.id: d for d in session.scalars(
        sa.select(Dataset).where(Dataset.id.in_(request.dataset_ids)))}
    trail = audit_trail(session, subject_type="access_request", subject_id=str(request.id))
    if request.permit:
        trail += audit_trail(session, subject_type="permit", subject_id=str(request.permit.id))
    pending = {t.holder_org_id for t in request.current_tasks if t.status == "pending"}
    permit = request.permit
    applicant = (actor.belongs_to(request.company_org_id) and actor.has_scope("access:request"))
    resubmits = next((entry.details.get("resubmits") for entry in trail
                      if entry.action == "access_request.submitted"
                      and isinstance(entry.details, dict)), None)
    return RequestDetail(
        request=request, datasets=datasets, purpose=consent_services.get_purpose(request.purpose),
        trail=sorted(trail, key=lambda entry: entry.id),
        test_course=(test_beds.course(session, course_id=request.test_course_id)
                     if request.test_course_id is not None else None),
        days_left={t.id: sla.working_days_left(now, t.due_at)
                   for t in request.current_tasks if t.status == "pending"},
        can_review=(request.status == "review" and _is_reviewer(actor)
                    and actor.org_id in pending),
        can_amend=request.status == "changes_requested" and applicant,
        can_resubmit=request.status in RESUBMITTABLE and applicant,
        can_use_permit=(permit is not None and permit.status_at(now) == "active"
                        and actor.belongs_to(request.company_org_id)),
        resubmits=resubmits if isinstance(resubmits, int) else None,
        can_revoke=(permit is not None and permit.status_at(now) == "active"
                    and (actor.is_operator or (_is_reviewer(actor)
                                               and actor.org_id in request.holder_org_ids))))


# --- permits --------------------------------------------------------------------------------

def revoke_permit(session: Session, *, actor: Principal, permit_id: int, reason: str,
                  now: datetime) -> Permit:
    """Revoke a permit (a holder of a covered dataset or the operator); raise Forbidden,
    Invalid or Conflict."""
    permit = require_permit(session, permit_id=permit_id)
    holder = _is_reviewer(actor) and actor.org_id in _permit_holder_ids(session, permit)
    if not (actor.is_operator or holder):
        raise Forbidden("kun en dataholder for et omfattet datasæt eller operatøren kan "
                        "tilbagekalde")
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_COMMENT:
        raise Invalid.field("reason", N_("giv en begrundelse (højst {max_length} "
                                      "tegn)"), max_length=MAX_COMMENT)
    if contains_cpr(reason):
        raise Invalid.field("reason", N_("fjern CPR-numre fra teksten"))
    status = permit.status_at(now)
    if status != "active":
        raise unusable_permit(status)
    permit.stored_status, permit.revoked_at = "revoked", now
    permit.revoked_by, permit.revocation_reason = actor_label(actor), reason
    record_audit(session, actor=actor, action="permit.revoked", subject_type="permit",
                 subject_id=str(permit.id), details={"reason": reason})
    return permit


@dataclass(frozen=True)
class RegisterRow:
    permit: Permit
    datasets: list[Dataset]
    purpose: Any
    status: str


def list_register(session: Session, *, now: datetime | None = None) -> list[RegisterRow]:
    """The public register of approved uses: who, what, why, until when (EHDS Art. 57)."""
    permits = list(session.scalars(sa.select(Permit).order_by(Permit.approved_at.desc(),
                                                              Permit.id.desc())))
    return _register_rows(session, permits, now=now or utcnow())


def page_register(session: Session, *, paging: Paging,
                  now: datetime | None = None) -> Page[RegisterRow]:
    """One page of the public register, newest permit first, with the register's size."""
    # The register's size rides along with its page: one round trip, not two.
    rows = session.execute(
        sa.select(Permit, sa.func.count().over())
        .order_by(Permit.approved_at.desc(), Permit.id.desc())
        .offset(paging.offset).limit(paging.per_page)).all()
    permits = [permit for permit, _ in rows]
    total = rows[0][1] if rows else session.scalar(sa.select(sa.func.count()).select_from(Permit))
    return Page(_register_rows(session, permits, now=now or utcnow()), total or 0,
                paging.page, paging.per_page)


def _register_rows(session: Session, permits: list[Permit], *,
                   now: datetime) -> list[RegisterRow]:
    ids = {i for permit in permits for i in permit.dataset_ids}
    # The register names each dataset and its holder only; its descriptor stays unread.
    by_id = {d.id: d for d in session.scalars(
        sa.select(Dataset).where(Dataset.id.in_(ids))
        .options(load_only(Dataset.id, Dataset.title, Dataset.title_en,
                           Dataset.publisher_org_id)))}
    return [RegisterRow(permit, [by_id[i] for i in permit.dataset_ids if i in by_id],
                        consent_services.get_purpose(permit.purpose), permit.status_at(now))
            for permit in permits]


def count_permits_by_level(session: Session) -> dict[str, int]:
    """Active permits per publisher level of the datasets they cover."""
    now = utcnow()
    rows = session.execute(
        sa.select(Organisation.kind, sa.func.count(sa.distinct(Permit.id)))
        .select_from(Permit)
        .join(RequestedDataset, RequestedDataset.access_request_id == Permit.access_request_id)
        .join(Organisation, Organisation.id == RequestedDataset.holder_org_id)
        .where(Permit.stored_status == "active", Permit.valid_until > now)
        .group_by(Organisation.kind))
    counts = {"national": 0, "regional": 0, "municipal": 0}
    for kind, count in rows:
        if kind in counts:
            counts[kind] = count
    return counts


def find_unaudited_state(session: Session) -> str | None:
    """The first access state change the chain has no entry for; None when all have one.

    A hash chain cannot show that its newest entries were cut off; the decisions, permits,
    revocations and reviews that the entries recorded still can.
    """
    recorded = {(entry.action, entry.subject_id, (entry.details or {}).get("round"))
                for entry in audit_entries(session)}
    expected: list[tuple[tuple[str, str, int | None], str]] = [
        (("access_request.decided", str(d.access_request_id), d.round), f"decision {d.id}")
        for d in session.scalars(sa.select(AccessDecision).order_by(AccessDecision.id))]
    for permit in session.scalars(sa.select(Permit).order_by(Permit.id)):
        expected.append((("permit.issued", str(permit.id), None), f"permit {permit.id}"))
        if permit.stored_status == "revoked":
            expected.append((("permit.revoked", str(permit.id), None),
                             f"the revocation of permit {permit.id}"))
    decided = sa.select(ReviewTask).where(ReviewTask.decided_at.is_not(None))
    for task in session.scalars(decided.order_by(ReviewTask.id)):
        expected.append(((f"review.{task.status}", str(task.access_request_id), task.round),
                         f"review {task.id}"))
    return next((label for key, label in expected if key not in recorded), None)
