"""`marketplace audit verify`: check that no audit entry was edited, deleted or cut off."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from marketplace.admin import services
from marketplace.db import session_scope


@click.group()
def audit() -> None:
    """The append-only audit chain of decisions, permits, releases and administration."""


@audit.command("verify")
@with_appcontext
def verify() -> int:
    """Walk the chain; exit 0 when intact, 1 naming the first broken entry otherwise.

    Also fails when an application, permit or review has no entry: the newest entries of a
    chain can be cut off without breaking it.
    """
    with session_scope(current_app._get_current_object()) as session:  # type: ignore[attr-defined]
        result = services.check_audit(session)
    click.echo(json.dumps(result.to_json()))
    if not result.ok:
        raise click.exceptions.Exit(1)
    return 0
