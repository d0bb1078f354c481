"""The `marketplace` command: database, demo world, organisations, users and API clients."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import time
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from marketplace import create_app, schema
from marketplace.db import session_scope
from marketplace.identity import services as identity
from marketplace.identity.models import ORG_KINDS, ROLES
from marketplace.security import current_keyring

DEMO_ORDER = ("catalog", "consent", "access", "testbeds", "delivery", "workspace", "growth")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def cli() -> None:
    """Greater Copenhagen health-data marketplace."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION."""
    from marketplace import audit

    schema.upgrade(current_app.config["DATABASE_URL"], revision=revision)
    if revision == "head":
        with session_scope(current_app._get_current_object()) as session:  # type: ignore[attr-defined]
            sealed = audit.seal_legacy_chain(session)
        if sealed:
            click.echo(f"audit chain anchored ({sealed} earlier entries pinned)")
    click.echo(f"database at {revision}")


@cli.command()
@click.option("--citizens", default=20_000, show_default=True, type=click.IntRange(10, 6_000_000))
@click.option("--catalog-size", default=0, show_default=True, type=click.IntRange(0, 100_000),
              help="Also publish this many generated descriptors (for search load tests).")
@click.option("--seed", default=2018, show_default=True)
@with_appcontext
def demo(citizens: int, catalog_size: int, seed: int) -> None:
    """Create (or complete) the demo world; running it again adds nothing new."""
    from marketplace.identity import demo as identity_demo

    started = time.monotonic()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    keyring = current_keyring()
    with session_scope(app) as session:
        orgs = identity_demo.seed_orgs_and_users(session)
        population = identity_demo.synthetic_population(citizens, seed=seed)
        population = identity_demo.seed_citizens(session, keyring=keyring, population=population)
        world = identity_demo.DemoWorld(orgs=orgs, population=population, keyring=keyring,
                                        data_dir=app.config["DATA_DIR"], seed=seed)
        for domain in DEMO_ORDER:
            click.echo(f"demo: {domain} …", err=True)
            importlib.import_module(f"marketplace.{domain}.demo").seed_demo(session, world)
            session.flush()
        if catalog_size:
            from marketplace.catalog import demo as catalog_demo

            catalog_demo.seed_bulk_descriptors(session, world, catalog_size)
    click.echo(f"demo world ready in {time.monotonic() - started:.1f} s; sign in as:")
    _echo_json([{"sub": c["sub"], "name": c.get("name")} for c in demo_sign_ins()])


def demo_sign_ins() -> list[dict[str, object]]:
    """Everyone the development sign-in provider knows: the demo people and the cluster's."""
    from marketplace.growth import demo as growth_demo
    from marketplace.identity import demo as identity_demo

    cluster: list[dict[str, object]] = [{"sub": u["sub"], "email": u["email"], "name": u["name"]}
                                        for u in growth_demo.demo_users()]
    return identity_demo.provider_claims() + cluster


@cli.command("dev-provider")
@click.option("--port", default=9400, show_default=True)
def dev_provider(port: int) -> None:
    """Run the development OIDC sign-in provider with the demo users (never in production)."""
    import os

    import oidc_provider_mock

    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    users = [oidc_provider_mock.User(sub=str(c["sub"]), claims={k: v for k, v in c.items()
                                                                if k != "sub"})
             for c in demo_sign_ins()]
    with oidc_provider_mock.run_server_in_thread(port=port, user_claims=users) as server:
        click.echo(f"development sign-in provider on http://127.0.0.1:{server.server_port}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@cli.command("serve")
@click.option("--bind", default=None,
              help="host:port to listen on (default: MARKETPLACE_WEB_BIND or 127.0.0.1:8000).")
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Worker processes (default: MARKETPLACE_WEB_WORKERS or one per core).")
@click.option("--threads", default=None, type=click.IntRange(1, 256),
              help="Threads per worker (default: MARKETPLACE_WEB_THREADS or 4).")
def serve(bind: str | None, workers: int | None, threads: int | None) -> None:
    """Run the production server: gunicorn with marketplace/ops/gunicorn_config.py."""
    args = [sys.executable, "-m", "gunicorn", "--config", "python:marketplace.ops.gunicorn_config"]
    for flag, value in (("--bind", bind), ("--workers", workers), ("--threads", threads)):
        if value is not None:
            args += [flag, str(value)]
    sys.stdout.flush()
    # gunicorn takes this process over, so SIGTERM from the supervisor reaches its arbiter.
    os.execv(sys.executable, args)  # noqa: S606


@cli.group()
def orgs() -> None:
    """Organisations."""


@orgs.command("create")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(ORG_KINDS))
@click.option("--country", default="DK", show_default=True)
@click.option("--accredited", is_flag=True)
@with_appcontext
def orgs_create(slug: str, name: str, kind: str, country: str, accredited: bool) -> None:
    """Create an organisation and print it as JSON."""
    with session_scope(current_app._get_current_object()) as session:  # type: ignore[attr-defined]
        org = identity.create_org(session, slug=slug, name=name, kind=kind,
                                  country=country.upper(), accredited=accredited)
        _echo_json({"id": org.id, "slug": org.slug, "name": org.name, "kind": org.kind,
                    "country": org.country, "accredited": org.accredited, "level": org.level})


@cli.group()
def users() -> None:
    """Staff users."""


@users.command("add")
@click.option("--sub", required=True, help="The user's OIDC subject.")
@click.option("--email", required=True)
@click.option("--org", "org_slug", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", default="")
@with_appcontext
def users_add(sub: str, email: str, org_slug: str, role: str, name: str) -> None:
    """Add a staff member to an organisation and print it as JSON."""
    with session_scope(current_app._get_current_object()) as session:  # type: ignore[attr-defined]
        org = identity.require_org(session, slug=org_slug)
        user = identity.add_user(session, sub=sub, email=email, org=org, role=role, name=name)
        _echo_json({"id": user.id, "sub": user.sub, "email": user.email, "org": org.slug,
                    "role": user.role})


@cli.group()
def clients() -> None:
    """API clients (OAuth2 client credentials)."""


@clients.command("create")
@click.option("--org", "org_slug", required=True)
@click.option("--scopes", required=True, help='e.g. "catalog:write access:review"')
@with_appcontext
def clients_create(org_slug: str, scopes: str) -> None:
    """Create an API client; the secret is printed once and stored only as a hash."""
    with session_scope(current_app._get_current_object()) as session:  # type: ignore[attr-defined]
        org = identity.require_org(session, slug=org_slug)
        issued = identity.create_api_client(session, keyring=current_keyring(), org=org,
                                            scopes=scopes)
        _echo_json({"client_id": issued.client.client_id, "client_secret": issued.secret,
                    "scopes": issued.client.scope_list})


def _register_domain_commands() -> None:
    for module, name in (("marketplace.admin.commands", "audit"),
                         ("marketplace.worker", "worker"),
                         ("marketplace.notifications.commands", "notifications")):
        if importlib.util.find_spec(module) is not None:
            cli.add_command(getattr(importlib.import_module(module), name))


def main() -> None:
    from marketplace.errors import DomainError

    try:
        result = cli.main(prog_name="marketplace", standalone_mode=False)
    except DomainError as error:
        click.echo(json.dumps(error.to_problem(), ensure_ascii=False), err=True)
        sys.exit(1)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        sys.exit(1)
    # Without standalone mode click returns a command's exit code instead of exiting.
    sys.exit(result if isinstance(result, int) else 0)


_register_domain_commands()
