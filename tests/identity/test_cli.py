"""The `marketplace` command: organisations, users and API clients, printed as JSON."""

import json

from marketplace.cli import cli


def _run(app, *args):
    return app.test_cli_runner().invoke(cli, list(args))


def test_create_org_user_and_client(app) -> None:
    created = _run(app, "orgs", "create", "--slug", "gentofte-kommune", "--name",
                   "Gentofte Kommune", "--kind", "municipal")
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["level"] == "municipal"
    user = _run(app, "users", "add", "--sub", "admin-gentofte", "--email", "a@gentofte.example",
                "--org", "gentofte-kommune", "--role", "holder_admin")
    assert user.exit_code == 0, user.output
    client = _run(app, "clients", "create", "--org", "gentofte-kommune", "--scopes",
                  "catalog:write access:review")
    assert client.exit_code == 0, client.output
    issued = json.loads(client.output)
    assert issued["scopes"] == ["access:review", "catalog:write"]
    assert issued["client_id"].startswith("mkt_") and len(issued["client_secret"]) > 30


def test_bad_cli_input_fails_without_storing(app, session) -> None:
    from marketplace.identity.models import Organisation

    before = session.query(Organisation).count()
    bad_kind = _run(app, "orgs", "create", "--slug", "x-y-z", "--name", "X", "--kind", "planet")
    assert bad_kind.exit_code != 0
    bad_slug = _run(app, "orgs", "create", "--slug", "Bad Slug", "--name", "X",
                    "--kind", "company")
    assert bad_slug.exit_code != 0
    unknown_org = _run(app, "users", "add", "--sub", "s", "--email", "s@x.dk", "--org", "none",
                       "--role", "reviewer")
    assert unknown_org.exit_code != 0
    assert session.query(Organisation).count() == before
