"""`marketplace audit verify`: check that no audit entry was edited or deleted."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from marketplace import audit as audit_chain
from marketplace.access import services
from marketplace.db import session_scope


@click.group()
def audit() -> None:
    """The append-only audit chain of access decisions, reviews and permits."""


@audit.command("verify")
@with_appcontext
def verify() -> int:
    """Walk the chain; exit 0 when intact, 1 naming the first broken entry otherwise.

    Also fails when an application, permit or review has no entry: the newest entries of a
    chain can be cut off without breaking it.
    """
    with session_scope(current_app._get_current_object()) as session:  # type: ignore[attr-defined]
        result = audit_chain.verify_audit_chain(session)
        unaudited = services.find_unaudited_state(session) if result.ok else None
    ok = result.ok and unaudited is None
    reason = result.reason or (unaudited and f"entries were cut off: no audit entry for "
                                             f"{unaudited}")
    click.echo(json.dumps({"ok": ok, "checked": result.checked,
                           "first_broken_id": result.first_broken_id, "reason": reason,
                           "head": result.head}))
    if not ok:
        raise click.exceptions.Exit(1)
    return 0
