"""Human release of outputs (EHDS Art. 73): the checkers' queue, reviews, release, download,
signed release manifests, and each data holder's output rules.

An output leaves the secure processing environment only after approvals by two different output
checkers of the data holder (one where the holder asks for one on every dataset of the permit),
as OpenSAFELY and Findata do. Reviews, releases and downloads are written to the audit chain in
the same transaction.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from marketplace import audit
from marketplace.access import services as access_services
from marketplace.access import sla
from marketplace.access.models import Permit
from marketplace.catalog import services as catalog_services
from marketplace.delivery.output import sign_manifest
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity import services as identity_services
from marketplace.identity.principal import Principal
from marketplace.languages import N_
from marketplace.notifications import services as notifications
from marketplace.notifications.kinds import COMPANY
from marketplace.security import Keyring
from marketplace.workspace.checks import (
    DEFAULT_TYPES,
    OutputRules,
    acro_entry,
    acro_summary,
    summary_outcome,
)
from marketplace.workspace.models import (
    DEFAULT_CELL_THRESHOLD,
    OutputPolicy,
    OutputReview,
    WorkspaceJob,
    WorkspaceOutput,
    output_context,
    output_path,
)
from marketplace.workspace.release_schemas import OutputPolicyIn, OutputReviewIn

TARGET_WORKING_DAYS = 5  # Findata's Portti verifies results within 5 working days
DEFAULT_CHECKERS = 2
CHECK_SCOPE = "output:check"


# --- who is who ----------------------------------------------------------------------------------


def is_checker(actor: Principal) -> bool:
    """Output checkers: staff with the output_checker role, or a holder's client with the scope."""
    return actor.is_authenticated and actor.has_scope(CHECK_SCOPE) and actor.org_id is not None


def _require_checker(actor: Principal) -> None:
    if not is_checker(actor):
        raise Forbidden("kontrol af resultater kræver rollen outputkontrollant (adgangsområdet "
                        "output:check)")


def get_output(session: Session, *, output_id: int) -> WorkspaceOutput | None:
    return session.get(WorkspaceOutput, output_id)


def require_output(session: Session, *, output_id: int) -> WorkspaceOutput:
    output = get_output(session, output_id=output_id)
    if output is None:
        raise NotFound("resultat {id} findes ikke", id=output_id)
    return output


def holder_ids(session: Session, output: WorkspaceOutput) -> list[int]:
    """The data holders whose checkers decide on the output (those of the permit's datasets)."""
    if output.holder_org_ids:
        return sorted(set(output.holder_org_ids))
    permit = access_services.require_permit(session, permit_id=output.permit_id)
    return sorted({catalog_services.require_dataset(session, dataset_id=i).publisher_org_id
                   for i in permit.dataset_ids})


def _is_company(actor: Principal, output: WorkspaceOutput) -> bool:
    return actor.belongs_to(output.job.company_org_id)


def require_checkable_output(session: Session, *, actor: Principal, output_id: int
                             ) -> WorkspaceOutput:
    """An output the actor may check: a checker of one of its holders, never of the company.

    Raises Forbidden for callers who are no checkers and for the company itself, NotFound when
    the output does not exist or belongs to another holder (its existence is not revealed).
    """
    _require_checker(actor)
    output = require_output(session, output_id=output_id)
    if _is_company(actor, output):
        raise Forbidden("en virksomhed kan ikke kontrollere sine egne resultater")
    if actor.org_id not in holder_ids(session, output):
        raise NotFound("resultat {id} findes ikke", id=output_id)
    return output


def require_visible_output(session: Session, *, actor: Principal, output_id: int
                           ) -> WorkspaceOutput:
    """An output the actor may see: its company, its holders' checkers or the operator."""
    output = require_output(session, output_id=output_id)
    if _is_company(actor, output) or actor.is_operator:
        return output
    if is_checker(actor) and actor.org_id in holder_ids(session, output):
        return output
    if actor.org_id is not None and actor.org_id in holder_ids(session, output):
        raise Forbidden("kun dataholderens outputkontrollanter ser resultater")
    raise NotFound("resultat {id} findes ikke", id=output_id)


# --- the holders' rules --------------------------------------------------------------------------


def get_output_policy(session: Session, *, dataset_id: int) -> OutputPolicy:
    """The dataset's output rules (defaults when its holder set none; not added to the session)."""
    policy = session.get(OutputPolicy, dataset_id)
    if policy is None:
        policy = OutputPolicy(dataset_id=dataset_id, cell_threshold=DEFAULT_CELL_THRESHOLD,
                              checkers_required=DEFAULT_CHECKERS,
                              allowed_types=sorted(DEFAULT_TYPES))
    return policy


def read_output_policy(session: Session, *, actor: Principal, dataset_id: int) -> OutputPolicy:
    """The output rules of a dataset the actor can see; raises NotFound."""
    catalog_services.require_visible_dataset(session, dataset_id=dataset_id, actor=actor)
    return get_output_policy(session, dataset_id=dataset_id)


def set_output_policy(session: Session, *, actor: Principal, dataset_id: int,
                      policy: OutputPolicyIn) -> OutputPolicy:
    """Set a dataset's output rules; only the holder's administrators may (Forbidden)."""
    dataset = catalog_services.require_visible_dataset(session, dataset_id=dataset_id,
                                                       actor=actor)
    if not (actor.belongs_to(dataset.publisher_org_id)
            and (actor.role == "holder_admin" or (actor.kind == "client"
                                                  and actor.has_scope("catalog:write")))):
        raise Forbidden("kun dataholderens administratorer fastsætter dens regler for resultater")
    stored = session.get(OutputPolicy, dataset_id)
    if stored is None:
        stored = OutputPolicy(dataset_id=dataset_id)
        session.add(stored)
    before = {"cell_threshold": stored.cell_threshold, "checkers_required":
              stored.checkers_required, "allowed_types": stored.allowed_types}
    stored.cell_threshold = policy.cell_threshold
    stored.checkers_required = policy.checkers_required
    stored.allowed_types = list(policy.allowed_types)
    session.flush()
    audit.record_audit(session, actor=actor, action="output_policy.set", subject_type="dataset",
                       subject_id=str(dataset_id),
                       details={"before": before, "after": policy.model_dump()})
    return stored


def rules_for_permit(session: Session, *, permit: Permit, cohort_size: int | None = None,
                     acro_results: dict[str, Any] | None = None) -> OutputRules:
    """The strictest output rules over the permit's datasets, for the automatic checks."""
    policies = [get_output_policy(session, dataset_id=i) for i in permit.dataset_ids]
    allowed = set(DEFAULT_TYPES)
    for policy in policies:
        allowed &= set(policy.allowed_types or DEFAULT_TYPES)
    threshold = max([p.cell_threshold for p in policies] or [DEFAULT_CELL_THRESHOLD])
    return OutputRules(cell_threshold=threshold, allowed_types=frozenset(allowed),
                       cohort_size=cohort_size, acro_results=acro_results)


def checkers_required(session: Session, output: WorkspaceOutput) -> int:
    """Two, unless the holder asks for one on every dataset of the permit."""
    permit = access_services.require_permit(session, permit_id=output.permit_id)
    needed = [get_output_policy(session, dataset_id=i).checkers_required
              for i in permit.dataset_ids]
    return max(needed or [DEFAULT_CHECKERS])


# --- the clock -----------------------------------------------------------------------------------


def due_at(output: WorkspaceOutput) -> datetime:
    """When the holder should have decided: 5 working days after the output was collected."""
    if output.review_due_at is not None:
        return output.review_due_at
    return sla.add_working_days(output.created_at, TARGET_WORKING_DAYS)


def working_days_left(output: WorkspaceOutput, *, now: datetime) -> int:
    return sla.working_days_left(now, due_at(output))


# --- the queue -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewState:
    """An output with what a checker needs to decide on it."""

    output: WorkspaceOutput
    job: WorkspaceJob
    company: str
    approvals: int
    checkers_required: int
    due_at: datetime
    working_days_left: int
    outcome: str
    reviewer_keys: frozenset[str] = field(default_factory=frozenset)

    @property
    def overdue(self) -> bool:
        return self.output.status == "pending_review" and self.working_days_left < 0


def _approvers(output: WorkspaceOutput) -> set[str]:
    return {review.reviewer for review in output.reviews if review.decision == "approve"}


def review_state(session: Session, output: WorkspaceOutput, *, now: datetime) -> ReviewState:
    company = identity_services.require_org_by_id(session, org_id=output.job.company_org_id)
    return ReviewState(
        output=output, job=output.job, company=company.name, approvals=len(_approvers(output)),
        checkers_required=checkers_required(session, output), due_at=due_at(output),
        working_days_left=working_days_left(output, now=now),
        outcome=summary_outcome(output.checks or []),
        reviewer_keys=frozenset(_approvers(output)))


def review_queue(session: Session, *, actor: Principal, now: datetime) -> list[ReviewState]:
    """The outputs waiting for the actor's data holder, the most urgent first (Forbidden for
    anyone who is no output checker)."""
    _require_checker(actor)
    waiting = session.scalars(
        sa.select(WorkspaceOutput).where(WorkspaceOutput.status == "pending_review")
        .options(selectinload(WorkspaceOutput.reviews), selectinload(WorkspaceOutput.job))
        .order_by(WorkspaceOutput.created_at, WorkspaceOutput.id))
    mine = [output for output in waiting
            if actor.org_id in holder_ids(session, output)
            and not _is_company(actor, output)]
    states = [review_state(session, output, now=now) for output in mine]
    return sorted(states, key=lambda s: (s.due_at, s.output.id))


# --- deciding ------------------------------------------------------------------------------------


def reviewer_key(actor: Principal) -> str:
    """Who reviewed: one person (or one API client) counts once, whatever the session."""
    return audit.actor_label(actor)


def review_output(session: Session, *, actor: Principal, output_id: int, review: OutputReviewIn,
                  keyring: Keyring, data_dir: Path, now: datetime) -> WorkspaceOutput:
    """Record one checker's approval, rejection or request for changes; release the output when
    enough different checkers of its holders approved.

    Raises Forbidden (no checker, the company itself), NotFound (no such output, another
    holder's), Conflict (already decided, the same checker approving twice, a CPR number in the
    output), Invalid (a comment missing where the checks failed).
    """
    output = require_checkable_output(session, actor=actor, output_id=output_id)
    # Two checkers approving at the same moment must see each other's approval.
    session.execute(sa.select(WorkspaceOutput.id).where(WorkspaceOutput.id == output.id)
                    .with_for_update())
    session.refresh(output)
    if output.status != "pending_review":
        raise Conflict("resultatet venter ikke på kontrol")
    key = reviewer_key(actor)
    if any(r.reviewer == key for r in output.reviews):
        raise Conflict("du har allerede kontrolleret resultatet; en anden kontrollant skal afgøre "
                       "det")
    if review.decision == "approve":
        if any(c.get("rule") == "cpr" and c.get("outcome") == "fail" for c in output.checks):
            raise Conflict("et resultat med et CPR-nummer kan aldrig frigives")
        if summary_outcome(output.checks or []) == "fail" and not review.comment:
            raise Invalid.field("comment", N_("forklar, hvorfor resultatet er sikkert, selvom en "
                                           "kontrol fejlede"))
    entry = OutputReview(output_id=output.id, reviewer_user_id=actor.user_id,
                         reviewer_org_id=actor.org_id, reviewer=key, decision=review.decision,
                         comment=review.comment, at=now)
    session.add(entry)
    output.reviews.append(entry)
    audit.record_audit(session, actor=actor, action=f"output.{review.decision}",
                       subject_type="workspace_output", subject_id=str(output.id),
                       details={"permit_id": output.permit_id, "job_id": output.job_id,
                                "holder": actor.org_id, "comment": review.comment})
    if review.decision == "reject":
        output.status = "rejected"
    elif review.decision == "request_changes":
        output.status = "changes_requested"
    elif _enough_approvals(session, output):
        _release(session, output, keyring=keyring, data_dir=data_dir, now=now)
    if output.status != "pending_review":
        _tell_company(session, output)
    session.flush()
    return output


def _tell_company(session: Session, output: WorkspaceOutput) -> None:
    """Tell whoever submitted the job that its output was released or sent back."""
    job = output.job
    released = output.status == "released"
    notifications.notify(
        session, kind="output_released" if released else "output_returned",
        audience=notifications.submitter(job.submitted_by, org_id=job.company_org_id,
                                         roles=COMPANY),
        params={"name": job.name} if released else {"name": job.name,
                                                    "decision": output.status},
        link=f"/workspace/{output.permit_id}")


def _enough_approvals(session: Session, output: WorkspaceOutput) -> bool:
    approving = [r for r in output.reviews if r.decision == "approve"]
    holders = set(holder_ids(session, output))
    every_holder = holders <= {r.reviewer_org_id for r in approving}
    return every_holder and len({r.reviewer for r in approving}) >= checkers_required(
        session, output)


def _file_sha256(output: WorkspaceOutput, *, keyring: Keyring, data_dir: Path) -> str:
    digest = hashlib.sha256()
    for segment in keyring.read_encrypted(output_path(output.id, data_dir=data_dir),
                                          context=output_context(output.id)):
        digest.update(segment)
    return digest.hexdigest()


def _release(session: Session, output: WorkspaceOutput, *, keyring: Keyring, data_dir: Path,
             now: datetime) -> None:
    if _file_sha256(output, keyring=keyring, data_dir=data_dir) != output.sha256:
        raise Conflict("det gemte resultat passer ikke med det kontrollerede; det er ikke frigivet")
    output.status, output.released_at = "released", now
    output.manifest = sign_manifest(
        release_manifest(session, output), key=keyring.signing_key,
        public_key_b64=keyring.public_key_b64)
    audit.record_audit(session, actor=None, action="output.released",
                       subject_type="workspace_output", subject_id=str(output.id),
                       details={"permit_id": output.permit_id, "job_id": output.job_id,
                                "name": output.name, "sha256": output.sha256,
                                "reviewers": sorted(_approvers(output))})


def _reviewer_json(session: Session, review: OutputReview) -> dict[str, Any]:
    org = identity_services.require_org_by_id(session, org_id=review.reviewer_org_id)
    return {"reviewer": review.reviewer, "organisation": org.slug, "decision": review.decision,
            "comment": review.comment, "at": review.at.isoformat()}


def release_manifest(session: Session, output: WorkspaceOutput) -> dict[str, Any]:
    """The release manifest before signing: what was released, from which script, checked how,
    by whom."""
    assert output.released_at is not None
    return {
        "output_id": output.id, "job_id": output.job_id, "permit_id": output.permit_id,
        "name": output.name, "bytes": output.byte_size, "media_type": output.media_type,
        "sha256": output.sha256, "script_sha256": output.job.script_sha256,
        "checks": [{"rule": c.get("rule"), "outcome": c.get("outcome"),
                    "message": c.get("message")} for c in output.checks or []],
        "reviewers": [_reviewer_json(session, r) for r in output.reviews
                      if r.decision == "approve"],
        "released_at": output.released_at.isoformat(),
    }


# --- handing out ---------------------------------------------------------------------------------


def output_manifest(session: Session, *, actor: Principal, output_id: int) -> dict[str, Any]:
    """The signed release manifest; raises NotFound, Forbidden, Conflict before release."""
    output = require_visible_output(session, actor=actor, output_id=output_id)
    if output.status != "released" or output.manifest is None:
        raise Conflict("resultatet er ikke frigivet")
    return output.manifest


@dataclass(frozen=True)
class OutputDownload:
    output: WorkspaceOutput
    media_type: str
    filename: str
    body: Iterator[bytes]


def download_output(session: Session, *, actor: Principal, output_id: int, keyring: Keyring,
                    data_dir: Path) -> OutputDownload:
    """Hand a released output to the permit's company, verified against its manifest first.

    Raises NotFound (no such output, or not the caller's), Forbidden (a holder's staff: only
    the company downloads), Conflict (not released, or the stored file changed).
    """
    output = require_output(session, output_id=output_id)
    if not _is_company(actor, output):
        if actor.org_id is not None and actor.org_id in holder_ids(session, output):
            raise Forbidden("kun virksomheden med tilladelsen henter frigivne resultater")
        raise NotFound("resultat {id} findes ikke", id=output_id)
    if output.status != "released":
        raise Conflict("resultatet kan hentes, når det er frigivet")
    sha256 = (output.manifest or {}).get("sha256")
    if _file_sha256(output, keyring=keyring, data_dir=data_dir) != sha256:
        raise Conflict("det gemte resultat passer ikke med sit frigivelsesmanifest")
    audit.record_audit(session, actor=actor, action="output.downloaded",
                       subject_type="workspace_output", subject_id=str(output.id),
                       details={"permit_id": output.permit_id})
    path, context = output_path(output.id, data_dir=data_dir), output_context(output.id)

    def body() -> Iterator[bytes]:
        # Hashed again on the way: a file swapped since the check stops before its end.
        digest, pending = hashlib.sha256(), None
        for segment in keyring.read_encrypted(path, context=context):
            digest.update(segment)
            if pending is not None:
                yield pending
            pending = segment
        if digest.hexdigest() != sha256:
            raise Invalid("det gemte resultat ændrede sig, mens det blev sendt")
        if pending:
            yield pending

    # The script chose the name: keep it recognisable but safe inside a header.
    leaf = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(output.name).name).strip("._") or \
        f"output-{output.id}"
    return OutputDownload(output, output.media_type or "application/octet-stream", leaf, body())


# --- the public register and citizens ------------------------------------------------------------


@dataclass(frozen=True)
class ReleasedOutput:
    output_id: int
    job_id: int
    permit_id: int
    name: str
    sha256: str
    released_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"output_id": self.output_id, "job_id": self.job_id, "name": self.name,
                "sha256": self.sha256, "released_at": self.released_at.isoformat()}


def released_outputs(session: Session, *, permit_ids: Iterable[int]
                     ) -> dict[int, list[ReleasedOutput]]:
    """Released outputs per permit, oldest first (for the public register and "who used my
    data"); permits without any are absent."""
    ids = sorted(set(permit_ids))
    found: dict[int, list[ReleasedOutput]] = {}
    if not ids:
        return found
    rows = session.execute(
        sa.select(WorkspaceOutput.id, WorkspaceOutput.job_id, WorkspaceOutput.permit_id,
                  WorkspaceOutput.name, WorkspaceOutput.sha256, WorkspaceOutput.released_at)
        .where(WorkspaceOutput.permit_id.in_(ids), WorkspaceOutput.status == "released")
        .order_by(WorkspaceOutput.released_at, WorkspaceOutput.id))
    for output_id, job_id, permit_id, name, sha256, released_at in rows:
        if released_at is None:
            continue
        found.setdefault(permit_id, []).append(
            ReleasedOutput(output_id, job_id, permit_id, name, sha256, released_at))
    return found


def released_state() -> sa.Select:
    """A query of how many outputs were released and the newest release: it moves with every
    release."""
    return (sa.select(sa.func.count(WorkspaceOutput.released_at),
                      sa.func.max(WorkspaceOutput.released_at))
            .where(WorkspaceOutput.status == "released"))


@dataclass(frozen=True)
class PermitUse:
    """What happened in a permit's secure processing environment, for a citizen's overview."""

    permit_id: int
    jobs_run: int
    last_job_at: datetime | None
    released: list[ReleasedOutput]


def permit_uses(session: Session, *, permit_ids: Iterable[int]) -> dict[int, PermitUse]:
    """Jobs that ran on the permits' data and what was released from them, per permit.

    "Who used my data": a citizen whose records are in a permit's data sees that jobs used them
    under permit N, and which results left the platform.
    """
    ids = sorted(set(permit_ids))
    if not ids:
        return {}
    runs = session.execute(
        sa.select(WorkspaceJob.permit_id, sa.func.count(WorkspaceJob.id),
                  sa.func.max(WorkspaceJob.finished_at))
        .where(WorkspaceJob.permit_id.in_(ids), WorkspaceJob.status == "succeeded")
        .group_by(WorkspaceJob.permit_id))
    released = released_outputs(session, permit_ids=ids)
    uses: dict[int, PermitUse] = {}
    for permit_id, count, last in runs:
        uses[permit_id] = PermitUse(permit_id, int(count), last, released.get(permit_id, []))
    return uses


# --- answers -------------------------------------------------------------------------------------


def output_to_json(session: Session, output: WorkspaceOutput, *, now: datetime,
                   language: str = "en") -> dict[str, Any]:
    """The API form of an output with its checks, reviews and the review clock."""
    state = review_state(session, output, now=now)
    waiting = output.status == "pending_review"
    return {
        "id": output.id, "job_id": output.job_id, "permit_id": output.permit_id,
        "name": output.name, "bytes": output.byte_size, "media_type": output.media_type,
        "status": output.status, "company": state.company,
        "checks": [{"rule": c.get("rule"), "outcome": c.get("outcome"),
                    "message": (c.get("message_da") if language == "da" else None)
                    or c.get("message")} for c in output.checks or []],
        "checks_outcome": state.outcome,
        "acro": acro_for(output), "justification": output.justification,
        "reviews": [_reviewer_json(session, r) for r in output.reviews],
        "approvals": state.approvals, "checkers_required": state.checkers_required,
        "due_at": state.due_at.isoformat() if waiting else None,
        "working_days_left": state.working_days_left if waiting else None,
        "overdue": state.overdue,
        "created_at": output.created_at.isoformat() if output.created_at else None,
        "released_at": output.released_at.isoformat() if output.released_at else None,
    }


def acro_for(output: WorkspaceOutput) -> dict[str, Any] | None:
    """ACRO's status, flagged cells, the researcher's exception and comments for this output
    (the output keeps either ACRO's whole results file or this summary)."""
    stored = output.acro
    if not isinstance(stored, dict):
        return None
    if "results" in stored:
        entry = acro_entry(stored, output.name)
        return acro_summary(entry) if entry is not None else None
    return stored if "status" in stored else None


def policy_to_json(policy: OutputPolicy) -> dict[str, Any]:
    return {"dataset_id": policy.dataset_id, "cell_threshold": policy.cell_threshold,
            "checkers_required": policy.checkers_required,
            "allowed_types": list(policy.allowed_types)}
