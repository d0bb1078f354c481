"""What access tells people: decisions to the applicant, reviews and their deadlines to the
holders' reviewers."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.access import sla
from marketplace.access.models import AccessRequest, ReviewTask
from marketplace.identity.principal import Principal
from marketplace.notifications import services as notifications
from marketplace.notifications.kinds import COMPANY, REVIEWERS

REMIND_WITHIN_WORKING_DAYS = 5
# Five working days never span three calendar weeks, even over Easter or Christmas: reviews
# due later are not even read.
CALENDAR_HORIZON = timedelta(days=21)


def _link(request: AccessRequest) -> str:
    return f"/requests/{request.id}"


def application_decided(session: Session, request: AccessRequest, *,
                        actor: Principal | None = None) -> None:
    """Tell the applicant's staff the application's outcome (its status)."""
    notifications.notify(
        session, kind="application_decided",
        audience=notifications.members(request.company_org_id, roles=COMPANY, actor=actor),
        params={"title": request.title, "outcome": request.status}, link=_link(request))


def review_opened(session: Session, request: AccessRequest, *, due: datetime) -> None:
    """Tell each requested dataset's holder's reviewers that a review awaits them."""
    notifications.notify(
        session, kind="review_assigned",
        audience=notifications.members(*sorted(request.holder_org_ids), roles=REVIEWERS),
        params={"title": request.title, "due": sla.local_date(due).isoformat()},
        link=_link(request))


def remind_review_deadlines(session: Session, now: datetime) -> int:
    """Remind reviewers of pending reviews due within five working days, once per review."""
    pending = (sa.select(ReviewTask).join(ReviewTask.access_request)
               .where(ReviewTask.status == "pending", AccessRequest.status == "review",
                      ReviewTask.round == AccessRequest.round,
                      ReviewTask.due_at <= now + CALENDAR_HORIZON)
               .order_by(ReviewTask.due_at, ReviewTask.id))
    told = 0
    for task in session.scalars(pending):
        days = sla.working_days_left(now, task.due_at)
        if days > REMIND_WITHIN_WORKING_DAYS:
            continue
        told += notifications.notify(
            session, kind="review_deadline",
            audience=notifications.members(task.holder_org_id, roles=REVIEWERS),
            params={"title": task.access_request.title, "days": max(days, 0),
                    "due": sla.local_date(task.due_at).isoformat()},
            link=_link(task.access_request), dedupe_key=f"review-deadline:{task.id}")
    return told
