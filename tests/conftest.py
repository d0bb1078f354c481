"""Shared fixtures: the migrated database (SQLite, and PostgreSQL when configured), the app,
signed-in clients, a real OIDC provider on loopback, live servers and Debian's Chromium.

Each test runs inside a transaction on one connection; requests and the test's own session join
it through SAVEPOINTs, and everything is rolled back afterwards.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from marketplace import create_app, schema
from marketplace.audit import AUDIT_KEY
from marketplace.db import create_engine_for
from marketplace.identity import services as identity
from marketplace.identity import sessions as sign_ins
from marketplace.identity.models import Citizen, Organisation, User
from marketplace.security import Keyring

# Test keys are fixed so failures reproduce; they protect nothing outside the test databases.
TEST_MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
# The audit key of the installation the tests' apps make: tests that commit audit entries
# share the database with the sealer threads those apps started, which use this key.
TEST_AUDIT_KEY = Keyring(base64.b64decode(TEST_MASTER_KEY)).audit_key
POSTGRES_URL = os.environ.get("MARKETPLACE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")


def base_config(tmp: Path, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": url,
        "SECRET_KEY": "test-secret-key",
        "MASTER_KEY": TEST_MASTER_KEY,
        "DATA_DIR": tmp / "data",
        "OIDC_ISSUER": "http://127.0.0.1:9",
        "EXTRACTS_INLINE": False,
        "SERVER_NAME": None,
        **extra,
    }


def empty_postgres(url: str) -> None:
    """Drop everything in the test PostgreSQL database, migrations included."""
    engine = create_engine_for(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def fresh_postgres(url: str) -> None:
    """Empty and migrate the test PostgreSQL database: before a test that commits for real, and
    after it, so that the shared `database` fixture finds it as it left it (empty, migrated)."""
    empty_postgres(url)
    schema.upgrade(url)


def installation_url(backend: str, tmp: Path) -> str:
    """A migrated database of its own for a test that commits for real (processes, a demo):
    a SQLite file in `tmp`, or the test PostgreSQL database, emptied first."""
    if backend == "postgresql":
        assert POSTGRES_URL
        fresh_postgres(POSTGRES_URL)
        return POSTGRES_URL
    url = f"sqlite:///{tmp / 'marketplace.db'}"
    schema.upgrade(url)
    return url


def dispose(app: Flask) -> None:
    """Close an app's pooled connections (before its PostgreSQL database is emptied)."""
    engine = app.extensions.get("marketplace.engine")
    if engine is not None:
        engine.dispose()


@dataclass
class Database:
    backend: str
    url: str
    engine: sa.Engine


@pytest.fixture(scope="session", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Database]:
    url = installation_url(request.param, tmp_path_factory.mktemp("db"))
    engine = create_engine_for(url)
    yield Database(request.param, url, engine)
    engine.dispose()


@pytest.fixture
def connection(database: Database) -> Iterator[sa.Connection]:
    conn = database.engine.connect()
    transaction = conn.begin()
    yield conn
    transaction.rollback()
    conn.close()


@pytest.fixture
def app(database: Database, connection: sa.Connection, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setenv("MARKETPLACE_INSTANCE_PATH", str(tmp_path / "instance"))
    application = create_app(base_config(tmp_path, database.url))
    application.extensions["marketplace.sessionmaker"] = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False,
        info={AUDIT_KEY: application.extensions["marketplace.keyring"].audit_key},
    )
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    db = app.extensions["marketplace.sessionmaker"]()
    yield db
    db.close()


@pytest.fixture
def keyring(app: Flask) -> Keyring:
    return app.extensions["marketplace.keyring"]


@pytest.fixture
def data_dir(app: Flask) -> Path:
    return app.config["DATA_DIR"]


@pytest.fixture
def make_org(session: Session) -> Callable[..., Organisation]:
    counter = iter(range(1, 10_000))

    def make(kind: str = "municipal", slug: str | None = None, country: str = "DK",
             accredited: bool = True, name: str | None = None) -> Organisation:
        number = next(counter)
        org = identity.create_org(session, slug=slug or f"{kind.replace('_', '-')}-org-{number}",
                                  name=name or f"Test {kind} {number}", kind=kind,
                                  country=country, accredited=accredited)
        session.flush()
        return org

    return make


@pytest.fixture
def make_user(session: Session) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(org: Organisation, role: str = "holder_admin") -> User:
        number = next(counter)
        return identity.add_user(session, sub=f"user-{org.slug}-{number}",
                                 email=f"user{number}@{org.slug}.example", org=org, role=role,
                                 name=f"User {number}")

    return make


@pytest.fixture
def make_citizen(session: Session, keyring: Keyring) -> Callable[..., tuple[Citizen, str]]:
    serials = iter(range(1000, 9999))

    def make(cpr: str | None = None, name: str | None = None) -> tuple[Citizen, str]:
        cpr = cpr or f"150385{next(serials):04d}"
        citizen = identity.register_citizen(session, keyring=keyring, cpr=cpr,
                                            name=name or "Test Borger")
        return citizen, cpr

    return make


@pytest.fixture
def login(client: FlaskClient, session: Session) -> Callable[[User | Citizen], None]:
    """Sign the test client in as a staff user or citizen (the OIDC flow has its own tests)."""

    def sign_in(who: User | Citizen) -> None:
        kind = "citizen" if isinstance(who, Citizen) else "staff"
        record = sign_ins.start_sign_in(session, kind=kind, subject_id=who.id)
        session.commit()
        with client.session_transaction() as cookie:
            cookie.clear()
            cookie["sid"] = record.id
            cookie.permanent = True

    return sign_in


@pytest.fixture
def csrf_headers(client: FlaskClient) -> Callable[[], dict[str, str]]:
    def headers() -> dict[str, str]:
        response = client.get("/api/v1/me")
        assert response.status_code == 200, response.get_data(as_text=True)
        return {"X-CSRF-Token": response.get_json()["csrf_token"]}

    return headers


@pytest.fixture
def api_headers(client: FlaskClient, session: Session, keyring: Keyring
                ) -> Callable[..., dict[str, str]]:
    """Return bearer headers with a real token from POST /oauth/token for `org`."""

    def headers(org: Organisation, scopes: str = "catalog:write") -> dict[str, str]:
        issued = identity.create_api_client(session, keyring=keyring, org=org, scopes=scopes)
        session.commit()
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(issued.client.client_id, issued.secret))
        assert response.status_code == 200, response.get_data(as_text=True)
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    return headers


# Live servers, the OIDC provider and the browser -----------------------------------------------


@dataclass
class LiveServer:
    url: str
    app: Flask


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[str]:
    """A real OIDC provider (oidc-provider-mock) on loopback, knowing the demo users."""
    import oidc_provider_mock

    from marketplace.cli import demo_sign_ins

    users = [oidc_provider_mock.User(sub=str(c["sub"]),
                                     claims={k: v for k, v in c.items() if k != "sub"})
             for c in demo_sign_ins()]
    with oidc_provider_mock.run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


def _serve(application: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _live_app(tmp: Path, issuer: str) -> Flask:
    url = f"sqlite:///{tmp / 'live.db'}"
    schema.upgrade(url)
    os.environ["MARKETPLACE_INSTANCE_PATH"] = str(tmp / "instance")
    return create_app(base_config(tmp, url, OIDC_ISSUER=issuer, EXTRACTS_INLINE=True))


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, oidc_provider: str
                ) -> Iterator[LiveServer]:
    application = _live_app(tmp_path_factory.mktemp("live"), oidc_provider)
    for url in _serve(application):
        yield LiveServer(url, application)


@pytest.fixture(scope="session")
def demo_live_server(tmp_path_factory: pytest.TempPathFactory, oidc_provider: str
                     ) -> Iterator[LiveServer]:
    from marketplace.cli import cli

    application = _live_app(tmp_path_factory.mktemp("demo"), oidc_provider)
    result = application.test_cli_runner().invoke(cli, ["demo", "--citizens", "300"],
                                                  catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for url in _serve(application):
        yield LiveServer(url, application)


@pytest.fixture(scope="module", params=BACKENDS)
def demo_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Flask]:
    """The demo world on each database: on SQLite the demo live server's (shared with the
    browser tests), on PostgreSQL one made for the module and emptied afterwards."""
    if request.param == "sqlite":
        yield request.getfixturevalue("demo_live_server").app
        return
    from marketplace.cli import cli

    tmp = tmp_path_factory.mktemp("demo-pg")
    url = installation_url("postgresql", tmp)
    previous = os.environ.get("MARKETPLACE_INSTANCE_PATH")
    os.environ["MARKETPLACE_INSTANCE_PATH"] = str(tmp / "instance")
    try:
        application = create_app(base_config(tmp, url))
    finally:
        if previous is None:
            os.environ.pop("MARKETPLACE_INSTANCE_PATH", None)
        else:
            os.environ["MARKETPLACE_INSTANCE_PATH"] = previous
    result = application.test_cli_runner().invoke(cli, ["demo", "--citizens", "300"],
                                                  catch_exceptions=False)
    assert result.exit_code == 0, result.output
    try:
        yield application
    finally:
        dispose(application)
        fresh_postgres(url)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(locale="da-DK")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _sign_in_browser(page: Any, base_url: str, sub: str, next_path: str = "/") -> None:
    page.goto(f"{base_url}/auth/login?next={next_path}")
    page.fill("input[type=text][name=sub]", sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(lambda url: url.startswith(base_url) and "/auth/" not in url)


@pytest.fixture
def sign_in_browser() -> Callable[..., None]:
    return _sign_in_browser


@pytest.fixture
def axe_violations() -> Callable[[Any], list[dict[str, Any]]]:
    """Run axe-core on the page; return the serious and critical violations."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def run(page: Any) -> list[dict[str, Any]]:
        results = axe.run(page)
        return [
            {"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]

    return run
