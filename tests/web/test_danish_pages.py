"""A Danish page shows Danish words: no English texts and no internal codes, for every role.

The demo is built once; each demo user signs in and walks the pages their menu offers and the
pages those link to, as a first-time user would.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from marketplace import create_app, schema
from marketplace.admin.events import EVENT_LABELS as AUDIT_ACTIONS
from marketplace.catalog.purposes import load_taxonomy
from marketplace.db import session_scope
from marketplace.identity import sessions as sign_ins
from marketplace.identity.models import Citizen, User
from marketplace.testbeds.models import SolutionProfile, TestCourse
from marketplace.web.views import DEMO_USERS
from tests.conftest import base_config

PAGES_PER_ROLE = 30
SKIP = ("/logout", "/auth/", "/api/", "/oauth/", "/.well-known/", "/static/", "/catalog.ttl",
        "/catalog.jsonld", "/metrics", "/health", "/consent/receipt")
SKIP_SUFFIXES = (".csv", ".pdf", ".json", ".parquet", ".ttl", ".jsonld", "/data", "/manifest",
                 "/dummy", "/download")
# Words of English sentences that Danish text never needs.
ENGLISH = re.compile(r"\b(the|does not|cannot|must be|belongs to|only the|not valid|"
                     r"Choose|Platform operator|is not|has no|already|invalid)\b")
# Codes the platform uses internally: audit events and purpose codes (snake_case words).
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
AUDIT_EVENT = re.compile(r"\b[a-z_]+\.[a-z_]+\b")


class _VisibleText(HTMLParser):
    """The text a reader sees: no scripts, styles or <code> (where codes are meant to be)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code", "pre", "textarea"):
            self._hidden += 1
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith("/"):
                self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "pre", "textarea") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _read(html: str) -> tuple[str, list[str]]:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split()), parser.links


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("danish-pages")
    url = f"sqlite:///{tmp / 'demo.db'}"
    schema.upgrade(url)
    application = create_app(base_config(tmp, url, EXTRACTS_INLINE=True, WORKSPACE_INLINE=False))
    from marketplace.cli import cli

    result = application.test_cli_runner().invoke(cli, ["demo", "--citizens", "60"],
                                                  catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return application


def _sign_in(application, client, sub: str) -> None:
    with session_scope(application) as db:
        if sub.startswith("citizen"):
            who = db.scalars(sa.select(Citizen).order_by(Citizen.id)).first()
            kind = "citizen"
        else:
            who = db.scalars(sa.select(User).where(User.sub == sub)).one()
            kind = "staff"
        record = sign_ins.start_sign_in(db, kind=kind, subject_id=who.id)
        sid = record.id
    with client.session_transaction() as cookie:
        cookie.clear()
        cookie["sid"] = sid
        cookie["lang"] = "da"
        cookie.permanent = True


def _walk(client) -> dict[str, str]:
    """Visible text of the pages reachable from the home page, one link deep beyond the menu."""
    seen: dict[str, str] = {}
    queue = ["/"]
    while queue and len(seen) < PAGES_PER_ROLE:
        path = queue.pop(0)
        if path in seen:
            continue
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            seen[path] = ""
            continue
        text, links = _read(response.get_data(as_text=True))
        seen[path] = text
        for link in links:
            target = urlsplit(link)
            clean = target.path + (f"?{target.query}" if target.query else "")
            if ("lang=" in clean or clean.startswith(SKIP) or target.path.endswith(SKIP_SUFFIXES)
                    or clean in seen or clean in queue):
                continue
            queue.append(clean)
    return seen


def _user_texts(application) -> list[str]:
    """What users wrote themselves, in whatever language they chose (a German company's
    solution in English): not the platform's words."""
    with session_scope(application) as db:
        texts = [*db.scalars(sa.select(TestCourse.title)), *db.scalars(sa.select(TestCourse.goal)),
                 *db.scalars(sa.select(SolutionProfile.name)),
                 *db.scalars(sa.select(SolutionProfile.description))]
    return sorted((text for text in texts if text), key=len, reverse=True)


def _offences(text: str, codes: set[str], user_texts: tuple[str, ...] = ()) -> list[str]:
    for written in user_texts:
        text = text.replace(written, " ")
    found = [match.group(0) for match in ENGLISH.finditer(text)]
    found += [word for word in SNAKE.findall(text) if word in codes]
    found += [event for event in AUDIT_EVENT.findall(text) if event in AUDIT_ACTIONS]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("sub", [sub for sub, _role, _org in DEMO_USERS])
def test_danish_pages_show_no_english_and_no_internal_codes(demo_app, sub):
    client = demo_app.test_client()
    _sign_in(demo_app, client, sub)
    codes = {purpose.code for purpose in load_taxonomy().purposes}
    written = tuple(_user_texts(demo_app))
    pages = _walk(client)
    assert len([text for text in pages.values() if text]) >= 3, pages.keys()
    problems = {path: offences for path, text in pages.items()
                if (offences := _offences(text, codes, written))}
    assert problems == {}


def test_the_check_finds_english_and_codes():
    codes = {"company_research"}
    assert _offences("Formål: company_research", codes) == ["company_research"]
    assert _offences("permit.issued 1. jul. 2026", codes) == ["permit.issued"]
    assert _offences("Detaljer: the permit does not exist", codes) == ["the", "does not"]
    assert _offences("Tilladelse udstedt · Formål: Virksomhedsforskning", codes) == []


def test_demo_users_table_names_the_operator_in_each_language(client):
    danish = client.get("/").get_data(as_text=True)
    assert "Demo-brugere" in danish
    assert "Platformens operatør" in danish and "Platform operator" not in danish
    assert "Platform operator" in client.get("/?lang=en").get_data(as_text=True)


