"""Danish first, English on request: `_("Dansk tekst")` looks up the English in translations/*.json.

Danish is the source language, so a missing English entry shows Danish rather than a key.
Each domain keeps its own file (translations/<domain>.json) to keep changes local.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from flask import Flask, g, has_request_context, request, session

LANGUAGES = ("da", "en")
_DIR = Path(__file__).parent / "translations"


@cache
def english() -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted(_DIR.glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def current_language() -> str:
    if not has_request_context():
        return "da"
    return g.get("lang", "da")


def gettext(text: str, **values: object) -> str:
    """Translate Danish `text` into the request's language and fill {named} values."""
    if current_language() == "en":
        text = english().get(text, text)
    return text.format(**values) if values else text


def choose_language() -> None:
    """Pick the language: ?lang= (remembered in the session), else the session, else Danish."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        g.lang = asked
    else:
        g.lang = session.get("lang", "da") if session.get("lang") in LANGUAGES else "da"


def init_app(app: Flask) -> None:
    app.before_request(choose_language)
    app.jinja_env.globals["_"] = gettext
    app.jinja_env.globals["current_language"] = current_language
