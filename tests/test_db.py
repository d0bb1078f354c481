"""The embedded database under concurrent use: writers queue for the lock; nobody gets a 500."""
from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from marketplace import create_app, schema
from marketplace.db import session_scope
from marketplace.identity import services as identity
from tests.catalog.conftest import DESCRIPTOR
from tests.conftest import base_config

WRITERS = 8
REQUESTS_EACH = 6


@pytest.fixture
def sqlite_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A threaded HTTP server over a file SQLite database, and a holder's API client."""
    monkeypatch.setenv("MARKETPLACE_INSTANCE_PATH", str(tmp_path / "instance"))
    url = f"sqlite:///{tmp_path / 'marketplace.db'}"
    schema.upgrade(url)
    app = create_app(base_config(tmp_path, url))
    with session_scope(app) as session:
        org = identity.create_org(session, slug="herlev-test", name="Herlev", kind="regional")
        issued = identity.create_api_client(session, keyring=app.extensions["marketplace.keyring"],
                                            org=org, scopes="catalog:write")
        credentials = (issued.client.client_id, issued.secret)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", credentials
    server.shutdown()
    app.extensions["marketplace.engine"].dispose()


def test_eight_concurrent_writers_on_sqlite_get_no_errors(sqlite_server) -> None:
    base, credentials = sqlite_server
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def writer(number: int) -> None:
        with requests.Session() as http:
            for round_ in range(REQUESTS_EACH):
                token = http.post(f"{base}/oauth/token", auth=credentials, timeout=60,
                                  data={"grant_type": "client_credentials"})
                answers = [token.status_code]
                if token.status_code == 200:
                    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
                    created = http.post(f"{base}/api/v1/datasets", headers=headers, timeout=60,
                                        json=DESCRIPTOR | {"title": f"Skriver {number}.{round_}"})
                    answers.append(created.status_code)
                with lock:
                    statuses.update(answers)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == Counter({200: WRITERS * REQUESTS_EACH, 201: WRITERS * REQUESTS_EACH})


def test_production_refuses_sqlite_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="PostgreSQL"):
        create_app({"ENV": "production", "SECRET_KEY": "x" * 40,
                    "MASTER_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                    "OIDC_ISSUER": "https://broker.example", "OIDC_CLIENT_ID": "mp",
                    "OIDC_CLIENT_SECRET": "s" * 32,
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "DATA_DIR": tmp_path})


def test_static_assets_after_an_idle_minute_write_nothing(client, session, login,
                                                           make_citizen) -> None:
    from datetime import timedelta

    from marketplace.db import utcnow
    from marketplace.identity.models import SignIn

    citizen, _ = make_citizen()
    login(citizen)
    sign_in = session.query(SignIn).one()
    idle_since = utcnow() - timedelta(minutes=2)
    sign_in.last_seen_at = idle_since
    session.commit()
    for asset in ("app.css", "app.js"):
        assert client.get(f"/static/{asset}").status_code == 200
    session.refresh(sign_in)
    assert sign_in.last_seen_at == idle_since
    assert client.get("/consent").status_code == 200  # a page moves the idle clock on
    session.refresh(sign_in)
    assert sign_in.last_seen_at > idle_since


def test_a_pooled_connection_that_died_while_idle_is_replaced_before_use(
        database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database restart or an idle cut-off must not turn the next request into a 500."""
    if database.backend != "postgresql":
        pytest.skip("an SQLite connection cannot be cut off")
    import sqlalchemy as sa

    from marketplace import db

    engine = db.create_engine_for(database.url)
    try:
        with engine.connect() as connection:
            dead = connection.scalar(sa.select(sa.func.pg_backend_pid()))
        with database.engine.connect() as other:
            other.execute(sa.select(sa.func.pg_terminate_backend(dead)))
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
        with engine.connect() as connection:
            assert connection.scalar(sa.select(sa.func.pg_backend_pid())) != dead
    finally:
        engine.dispose()


PARALLEL_ASSETS = ("app.css", "app.js", "catalog.css", "catalog.js", "access.css",
                   "testbeds.css", "descriptor_form.js", "feasibility.js")


@pytest.fixture
def signed_in_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A threaded HTTP server over a file SQLite database, a signed-in staff member's session
    cookie, and a way to move that sign-in's last-seen time back (an idle minute, simulated)."""
    from datetime import timedelta

    from marketplace.db import utcnow
    from marketplace.identity import sessions
    from marketplace.identity.models import SignIn

    monkeypatch.setenv("MARKETPLACE_INSTANCE_PATH", str(tmp_path / "instance"))
    url = f"sqlite:///{tmp_path / 'marketplace.db'}"
    schema.upgrade(url)
    app = create_app(base_config(tmp_path, url))
    with session_scope(app) as session:
        org = identity.create_org(session, slug="pulmo-test", name="Pulmo", kind="company")
        user = identity.add_user(session, sub="company-test", email="c@pulmo.example",
                                 name="Lise", org=org, role="company_member")
        sign_in_id = sessions.start_sign_in(session, kind="staff", subject_id=user.id).id
    serializer = app.session_interface.get_signing_serializer(app)
    cookie = {app.config["SESSION_COOKIE_NAME"]: serializer.dumps(
        {"sid": sign_in_id, "_permanent": True})}

    def idle(seconds: int = 61) -> Any:
        with session_scope(app) as session:
            sign_in = session.get(SignIn, sign_in_id)
            sign_in.last_seen_at = utcnow() - timedelta(seconds=seconds)
            return sign_in.last_seen_at

    def last_seen() -> Any:
        with session_scope(app) as session:
            return session.get(SignIn, sign_in_id).last_seen_at

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", cookie, idle, last_seen
    server.shutdown()
    app.extensions["marketplace.engine"].dispose()


def _all_at_once(base: str, cookie: dict[str, str], paths: list[str]) -> dict[str, set[int]]:
    """Request every path at the same moment, as a browser loads a page's assets."""
    statuses: dict[str, set[int]] = {}
    lock = threading.Lock()
    start = threading.Barrier(len(paths))

    def fetch(path: str) -> None:
        start.wait()
        status = requests.get(base + path, cookies=cookie, timeout=60).status_code
        with lock:
            statuses.setdefault(path, set()).add(status)

    threads = [threading.Thread(target=fetch, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_assets_and_pages_in_parallel_after_an_idle_minute_never_fail(signed_in_server) -> None:
    base, cookie, idle, last_seen = signed_in_server
    paths = [f"/static/{asset}" for asset in PARALLEL_ASSETS] * 3 + ["/catalog", "/requests",
                                                                     "/test-courses"] * 2
    for _round in range(3):
        idle_since = idle()
        assert _all_at_once(base, cookie, paths) == {path: {200} for path in paths}
        assert last_seen() > idle_since  # the pages moved the idle clock on; still signed in


def _real_app(database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The app on its own engine and sessions, as a server runs it (not the tests' shared
    connection)."""
    monkeypatch.setenv("MARKETPLACE_INSTANCE_PATH", str(tmp_path / "instance"))
    return create_app(base_config(tmp_path, database.url))


def test_public_reading_pages_run_without_a_transaction_on_postgresql(
        database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The public register and catalog search save the BEGIN and ROLLBACK round trips."""
    if database.backend != "postgresql":
        pytest.skip("SQLite has no round trips to save")
    import sqlalchemy as sa

    from marketplace.db import get_session, reading_session

    app = _real_app(database, tmp_path, monkeypatch)
    try:
        statements: list[str] = []
        sa.event.listen(app.extensions["marketplace.engine"], "before_cursor_execute",
                        lambda _c, _cur, statement, *_: statements.append(statement))
        with app.test_request_context("/api/v1/register"):
            session = reading_session()
            session.execute(sa.select(1))
            assert session.connection().connection.driver_connection.autocommit
        assert len(statements) == 1  # its end asks nothing: there was no transaction
        with app.test_request_context("/api/v1/register"):
            get_session().execute(sa.select(1))  # the request already reads in a transaction
            assert not reading_session().connection().connection.driver_connection.autocommit
        with app.test_client() as client:
            assert client.get("/api/v1/register").status_code == 200
    finally:
        app.extensions["marketplace.engine"].dispose()



def test_new_rows_written_without_the_unit_of_work_read_back_as_written(
        session, make_org, make_user, monkeypatch):
    """The busiest writes skip the unit of work: their objects are stored with every default,
    stay usable without a reload, and whoever watches new rows still hears of them."""
    import sqlalchemy as sa

    from marketplace import db
    from marketplace.notifications.models import Notification

    user = make_user(make_org(kind="company", slug="rows-test"), role="company_member")
    heard: list[Any] = []
    monkeypatch.setattr(db, "_insert_listeners",
                        [lambda _session, objects: heard.extend(objects)])
    written = Notification(user_id=user.id, kind="job_finished", link="/jobs/1")
    db.insert_new(session, [written])
    session.add(written)
    assert written.id is not None and heard == [written]

    statements: list[str] = []

    def seen(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    bind = session.get_bind()
    sa.event.listen(bind, "before_cursor_execute", seen)
    try:
        # The defaults were applied here, and nothing is left to load or to flush.
        assert (written.params, written.in_inbox, written.read_at) == ({}, True, None)
        assert written.created_at is not None
        session.flush()
    finally:
        sa.event.remove(bind, "before_cursor_execute", seen)
    assert statements == []
    stored = session.execute(sa.select(Notification.kind, Notification.params,
                                       Notification.in_inbox)
                             .where(Notification.id == written.id)).one()
    assert tuple(stored) == ("job_finished", {}, True)


def test_a_request_keeps_what_it_committed_and_loses_what_it_did_not(
        database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a request that only read ends its transaction with COMMIT; one that wrote
    without committing, or failed, still loses the write (on SQLite every end is a ROLLBACK)."""
    import sqlalchemy as sa

    from marketplace.db import get_session, only_read
    from marketplace.identity.models import Organisation

    app = _real_app(database, tmp_path, monkeypatch)

    def organisations() -> set[str]:
        with session_scope(app) as session:
            return set(session.scalars(sa.select(Organisation.slug)))

    ends: list[str] = []
    engine = app.extensions["marketplace.engine"]
    sa.event.listen(engine, "commit", lambda _c: ends.append("commit"))
    sa.event.listen(engine, "rollback", lambda _c: ends.append("rollback"))
    try:
        with app.test_request_context("/"):
            session = get_session()
            session.execute(sa.select(Organisation.id)).all()
            assert only_read(session) is (database.backend == "postgresql")
        with app.test_request_context("/", method="POST"):
            session = get_session()
            session.execute(sa.select(Organisation.id)).all()
            session.add(Organisation(slug="pending-only", name="Ventende", kind="company"))
            assert not only_read(session)  # waiting to be flushed counts as written
        with app.test_request_context("/", method="POST"):
            session = get_session()
            session.add(Organisation(slug="flushed-only", name="Skrevet", kind="company"))
            session.flush()
            session.expunge_all()
            assert not only_read(session)
        with pytest.raises(RuntimeError), app.test_request_context("/"):
            get_session().execute(sa.select(Organisation.id)).all()
            raise RuntimeError("the view failed")
        # A statement failed and the view answered anyway.
        with app.test_request_context("/"), pytest.raises(sa.exc.DBAPIError):
            get_session().execute(sa.text("SELECT * FROM no_such_table"))
        read = "commit" if database.backend == "postgresql" else "rollback"
        assert ends == [read, "rollback", "rollback", "rollback", "rollback"]
        assert not {"pending-only", "flushed-only"} & organisations()
    finally:
        engine.dispose()


def test_reads_and_sealings_leave_the_connections_prepared_statements(
        database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """psycopg prepares a statement run five times on a connection and forgets them all at any
    ROLLBACK: requests that only read and the sealer's look for waiting entries must not roll
    back, or the busiest statements are planned afresh every time."""
    if database.backend != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    import sqlalchemy as sa

    from marketplace import audit
    from marketplace.db import get_session
    from marketplace.identity.models import Organisation

    app = _real_app(database, tmp_path, monkeypatch)
    engine = app.extensions["marketplace.engine"]
    engine.pool.dispose()
    try:
        for _ in range(6):  # one pooled connection, reused by every request
            with app.test_request_context("/"):
                get_session().execute(sa.select(Organisation.id)).all()
            audit.has_waiting(engine)
        with engine.connect() as connection:
            prepared = connection.scalars(sa.text("SELECT statement FROM pg_prepared_statements"))
            assert any(text.startswith("SELECT organisation.id") for text in prepared)
    finally:
        engine.dispose()
