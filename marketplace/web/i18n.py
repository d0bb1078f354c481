"""Danish first, English on request, through Flask-Babel's gettext catalogs.

`_("Dansk tekst {navn}", navn=v)` translates the Danish source text into the request's language
and fills its {named} values; `ngettext` picks the singular or plural. The catalogs and the
formatting of numbers, money and time live in `marketplace.languages` (no Flask), so PDFs and
pure modules say the same as the pages. A missing English entry shows Danish rather than a key.
"""

from __future__ import annotations

from datetime import date, datetime

import flask_babel
from babel.support import NullTranslations
from flask import Flask, Response, g, has_request_context, request, session

from marketplace import languages

LANGUAGES = languages.LANGUAGES
API_PREFIX = "/api/"
english = languages.english


def current_language() -> str:
    if not has_request_context():
        return languages.SOURCE_LANGUAGE
    return g.get("lang", languages.SOURCE_LANGUAGE)


def _translations() -> NullTranslations:
    if not has_request_context():
        return languages.translations(languages.SOURCE_LANGUAGE)
    return flask_babel.get_translations()


def gettext(text: str, **values: object) -> str:
    """Translate Danish `text` into the request's language and fill {named} values."""
    text = _translations().gettext(text)
    return text.format(**values) if values else text


def ngettext(singular: str, plural: str, count: int, **values: object) -> str:
    """The form for `count` in the request's language; fills `{count}` (formatted) and values."""
    text = _translations().ngettext(singular, plural, count)
    return text.format(count=languages.format_number(count, current_language()), **values)


def choose_language() -> None:
    """Pick the language: ?lang= (remembered in the session), else the session's, else for an
    API call the caller's Accept-Language, else Danish.

    Pages stay Danish until asked otherwise: a browser sends its own interface's language, which
    says little about the language a Danish service's user reads. A program calling the API
    states the language it wants its messages in, and that is what the header is for.
    """
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        g.lang = asked
        return
    remembered = session.get("lang")
    if remembered in LANGUAGES:
        g.lang = remembered
    elif request.path.startswith(API_PREFIX):
        g.lang = request.accept_languages.best_match(LANGUAGES) or languages.SOURCE_LANGUAGE
    else:
        g.lang = languages.SOURCE_LANGUAGE


def _vary_by_language(response: Response) -> Response:
    # A cache between caller and API must not give one caller's language to another.
    if request.path.startswith(API_PREFIX):
        response.vary.add("Accept-Language")
    return response


# --- formatting for templates: numbers, money and time in the page's language ---------------

def format_number(value: float | int | None, digits: int | None = None) -> str:
    return languages.format_number(value, current_language(), digits)


def format_percent(fraction: float | None, digits: int = 1, signed: bool = False) -> str:
    return languages.format_percent(fraction, current_language(), digits, signed)


def format_money(amount: float | int | None) -> str:
    return languages.format_money(amount, current_language())


def format_datetime(moment: datetime | None) -> str:
    return languages.format_datetime(moment, current_language())


def format_day(day: date | datetime | str | None) -> str:
    return languages.format_day(day, current_language())


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", languages.SOURCE_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", str(languages.TIMEZONE))
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(languages.CATALOG_DIR))
    app.config.setdefault("BABEL_DOMAIN", languages.DOMAIN)
    languages.compile_catalogs()
    flask_babel.Babel(app, locale_selector=current_language)
    app.before_request(choose_language)
    app.after_request(_vary_by_language)
    # Our own callables: {named} values (str.format) rather than gettext's %-formatting.
    app.jinja_env.globals.update(
        _=gettext, gettext=gettext, ngettext=ngettext, current_language=current_language)
    app.jinja_env.filters.update(
        number=format_number, percent=format_percent, money=format_money,
        datetime=format_datetime, day=format_day)
