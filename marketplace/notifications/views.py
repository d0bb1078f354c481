"""HTTP glue of notifications: the inbox and choices as JSON and as pages, and the operator's
view of the mail outbox."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response as BaseResponse

from marketplace.db import get_session, utcnow
from marketplace.errors import DomainError
from marketplace.identity.auth import api_auth, current_principal, login_required
from marketplace.languages import N_
from marketplace.notifications import kinds, services
from marketplace.notifications.models import Notification
from marketplace.notifications.schemas import (
    ChoicesIn,
    ChoicesOut,
    InboxOut,
    InboxQuery,
    MarkedOut,
    NotificationOut,
    NotificationPath,
)
from marketplace.web.api import requires
from marketplace.web.api import responses as _documented
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _

api = APIBlueprint("notifications_api", __name__, abp_tags=[Tag(name="notifications")])
bp = Blueprint("notifications", __name__)
F = TypeVar("F", bound=Callable[..., Any])
responses: Callable[..., Any] = _documented


def localised(view: F) -> F:
    """Give the service's Danish messages in the caller's language."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except DomainError as error:
            error.detail = _(error.detail)
            if error.errors:
                error.errors = [{"field": item["field"], "message": _(item["message"])}
                                for item in error.errors]
            raise

    return wrapper  # type: ignore[return-value]


def notification_json(notification: Notification) -> dict[str, Any]:
    title, text = kinds.render(notification.kind, notification.params or {},
                               current_language())
    return {"id": notification.id, "kind": notification.kind,
            "topic": kinds.topic_of(notification.kind), "title": title, "text": text,
            "link": notification.link, "created_at": notification.created_at.isoformat(),
            "read": notification.read_at is not None}


def choices_json(choices: services.Choices) -> dict[str, Any]:
    return {"language": choices.language,
            "topics": [{"key": t.key, "label": _(t.label), "inbox": choices.inbox[t.key],
                        "email": choices.email[t.key]} for t in choices.topics]}


# --- API -------------------------------------------------------------------------------------

@api.get("/api/v1/me/notifications", responses=responses(200, InboxOut, 401, 403, 422),
         security=requires(session=True))
@api_auth()
@localised
def api_inbox(query: InboxQuery) -> Response:
    """The caller's own notifications, newest first, with the unread count."""
    found = services.list_inbox(get_session(), actor=current_principal(), page=query.page,
                                per_page=query.per_page, unread_only=query.unread)
    return jsonify({"items": [notification_json(n) for n in found.items], "total": found.total,
                    "unread": found.unread, "page": found.page, "per_page": found.per_page})


@api.post("/api/v1/me/notifications/<int:notification_id>/read",
          responses=responses(200, NotificationOut, 401, 403, 404, 422),
          security=requires(session=True))
@api_auth()
@localised
def api_mark_read(path: NotificationPath) -> Response:
    """Mark one of the caller's notifications read (404 for anyone else's)."""
    db = get_session()
    notification = services.mark_read(db, actor=current_principal(),
                                      notification_id=path.notification_id, now=utcnow())
    db.commit()
    return jsonify(notification_json(notification))


@api.post("/api/v1/me/notifications/read-all", responses=responses(200, MarkedOut, 401, 403),
          security=requires(session=True))
@api_auth()
@localised
def api_mark_all_read() -> Response:
    """Mark every notification of the caller read."""
    db = get_session()
    marked = services.mark_all_read(db, actor=current_principal(), now=utcnow())
    db.commit()
    return jsonify({"marked": marked})


@api.get("/api/v1/me/notification-settings", responses=responses(200, ChoicesOut, 401, 403),
         security=requires(session=True))
@api_auth()
@localised
def api_choices() -> Response:
    """Which topics reach the caller's inbox and mail, and the mail's language."""
    return jsonify(choices_json(services.get_choices(get_session(),
                                                     actor=current_principal())))


@api.put("/api/v1/me/notification-settings",
         responses=responses(200, ChoicesOut, 401, 403, 422), security=requires(session=True))
@api_auth()
@localised
def api_set_choices(body: ChoicesIn) -> Response:
    """Switch topics on or off for the inbox and for mail, and choose the mail's language."""
    db = get_session()
    choices = services.set_choices(db, actor=current_principal(), language=body.language,
                                   inbox=body.inbox, email=body.email, now=utcnow())
    db.commit()
    return jsonify(choices_json(choices))


# --- pages -----------------------------------------------------------------------------------

def _page_number() -> int:
    raw = request.args.get("page", "1")
    return min(int(raw), 100_000) if raw.isdigit() and int(raw) >= 1 else 1


@bp.get("/notifications")
@login_required(kinds=("staff",))
@localised
def inbox() -> str:
    found = services.list_inbox(get_session(), actor=current_principal(), page=_page_number())
    items = [(n, *kinds.render(n.kind, n.params or {}, current_language()))
             for n in found.items]
    return render_template("notifications/inbox.html", found=found, items=items)


@bp.post("/notifications/<int:notification_id>/read")
@login_required(kinds=("staff",))
@localised
def mark_read(notification_id: int) -> BaseResponse:
    db = get_session()
    services.mark_read(db, actor=current_principal(), notification_id=notification_id,
                       now=utcnow())
    db.commit()
    flash(_("Beskeden er markeret som læst."), "success")
    return redirect("/notifications")


@bp.post("/notifications/read-all")
@login_required(kinds=("staff",))
@localised
def mark_all_read() -> BaseResponse:
    db = get_session()
    services.mark_all_read(db, actor=current_principal(), now=utcnow())
    db.commit()
    flash(_("Alle beskeder er markeret som læst."), "success")
    return redirect("/notifications")


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required(kinds=("staff",))
@localised
def settings() -> Any:
    db = get_session()
    actor = current_principal()
    if request.method == "POST":
        shown = services.topics_for(actor)
        services.set_choices(
            db, actor=actor, language=request.form.get("language", "da"),
            inbox={t.key: f"inbox-{t.key}" in request.form for t in shown},
            email={t.key: f"email-{t.key}" in request.form for t in shown}, now=utcnow())
        db.commit()
        flash(_("Dine valg er gemt."), "success")
        return redirect("/notifications/settings")
    return render_template("notifications/settings.html",
                           choices=services.get_choices(db, actor=actor))


@bp.get("/notifications/sent")
@login_required(kinds=("staff",))
@localised
def sent_mail() -> str:
    """What the platform sent (and is about to send) by mail: the operator's check."""
    messages = services.list_mail(get_session(), actor=current_principal())
    return render_template("notifications/sent.html", messages=messages)


MAIL_STATUS = {"pending": N_("venter"), "sending": N_("sendes"), "sent": N_("sendt"),
               "failed": N_("fejlet")}


@bp.app_context_processor
def _unread() -> dict[str, Any]:
    def unread() -> int:
        try:
            return services.unread_count(get_session(), actor=current_principal())
        except SQLAlchemyError:  # an error page after a failed transaction still renders
            return 0

    return {"notifications_unread": unread, "mail_status": MAIL_STATUS}
