"""Languages, translations and the local way of writing numbers, money and time.

Danish is the source language: every user-facing text is written in Danish in the code and
templates, and `translations/en/LC_MESSAGES/messages.po` gives the English (gettext). This
module knows no Flask, so pure modules that render for a given language (PDFs, labels) use it
directly; `marketplace.web.i18n` puts the same catalogs behind Flask-Babel for requests.

`python -m marketplace.languages update` extracts the strings from the code into the catalog;
`python -m marketplace.languages compile` writes the `.mo` files (the app also does that itself
when a catalog is newer than its compiled file).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as _format_date
from babel.dates import format_time as _format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, parse_pattern
from babel.support import NullTranslations, Translations

LANGUAGES = ("da", "en")
SOURCE_LANGUAGE = "da"
TIMEZONE = ZoneInfo("Europe/Copenhagen")
CATALOG_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"

# Calls whose Danish text argument is extracted into the catalog: gettext's own names, the
# `N_` marker for texts translated later, `translate` (a given language, e.g. a mail), and the
# error helpers that take Danish messages.
EXTRACT_KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None, "gettext": None, "N_": None, "ngettext": (1, 2),
    "PydanticCustomError": (2,), "invalid_field": (2,), "invalid": (2,),
    "forbidden": None, "not_found": None, "conflict": None, "translate": (1,),
    # marketplace.errors: a DomainError's detail, and Invalid.field's message.
    "DomainError": None, "BadRequest": None, "Unauthorized": None, "Forbidden": None,
    "NotFound": None, "Conflict": None, "TooLarge": None, "Invalid": None,
}


def N_(text: str) -> str:
    """Mark `text` for the catalog where it is defined; `gettext` translates it where shown."""
    return text


# --- catalogs --------------------------------------------------------------------------------

def catalog_path(lang: str) -> Path:
    return CATALOG_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalogs() -> None:
    """Write each catalog's `.mo` when it is missing or older than its `.po`."""
    for po_path in sorted(CATALOG_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        _compile_if_stale(po_path)
    translations.cache_clear()


def _compile_if_stale(po_path: Path) -> None:
    """Write the `.mo` beside `po_path` unless it is newer than the `.po`.

    Written to a temporary file and moved into place, so that several starting workers never
    read half a file.
    """
    mo_path = po_path.with_suffix(".mo")
    if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        return
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=po_path.parent.parent.name)
    fd, temporary = tempfile.mkstemp(dir=po_path.parent, suffix=".mo.tmp")
    with os.fdopen(fd, "wb") as out:
        write_mo(out, catalog)
    os.replace(temporary, mo_path)


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalog for `lang`; Danish (the source) and unknown ones translate nothing."""
    if lang == SOURCE_LANGUAGE or lang not in LANGUAGES:
        return NullTranslations()
    # Outside an app (a PDF, a command) the catalog may not have been compiled yet.
    _compile_if_stale(catalog_path(lang))
    return Translations.load(str(CATALOG_DIR), [lang], DOMAIN)


def english() -> dict[str, str]:
    """The English catalog as Danish text → English, for checks that a text is translated."""
    with catalog_path("en").open("rb") as handle:
        catalog = read_po(handle, locale="en")
    return {message.id: message.string for message in catalog
            if isinstance(message.id, str) and message.id and isinstance(message.string, str)}


def translate(text: str, lang: str, **values: object) -> str:
    """Translate Danish `text` into `lang` and fill its {named} values."""
    text = translations(lang).gettext(text)
    return text.format(**values) if values else text


def translate_plural(singular: str, plural: str, count: int, lang: str, **values: object) -> str:
    """The singular or plural form for `count` in `lang`; `{count}` and {named} values filled."""
    text = translations(lang).ngettext(singular, plural, count)
    return text.format(count=format_number(count, lang), **values)


# --- numbers, money and time -----------------------------------------------------------------

def _plain(text: str) -> str:
    """CLDR's no-break spaces as plain spaces: texts match what people type and search for."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def _locale(lang: str) -> Locale:
    return Locale.parse(lang if lang in LANGUAGES else SOURCE_LANGUAGE)


def format_number(value: float | int | None, lang: str, digits: int | None = None) -> str:
    """`value` with the language's separators ("48.000", "4,70"); `digits` fixes the decimals."""
    if value is None:
        return "–"
    if digits is None:
        return format_decimal(value, locale=_locale(lang))
    pattern = "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(value, format=pattern, locale=_locale(lang))


def format_percent(fraction: float | None, lang: str, digits: int = 1,
                   signed: bool = False) -> str:
    """A fraction as a percentage in the language's style: 0.588 → "58,8 %" / "58.8%"."""
    if fraction is None:
        return "–"
    locale = _locale(lang)
    pattern = parse_pattern(locale.percent_formats[None].pattern)
    pattern.frac_prec = (digits, digits)
    text = _plain(pattern.apply(fraction, locale))
    return f"+{text}" if signed and fraction > 0 else text


_CODE_BEFORE_DIGIT = re.compile(r"^([A-Z]{3})(?=\d)")


def format_money(amount: float | int | None, lang: str, currency: str = "DKK") -> str:
    """Whole kroner in the language's style: "48.000 kr." in Danish, "DKK 48,000" in English."""
    if amount is None:
        return "–"
    locale = _locale(lang)
    pattern = parse_pattern(locale.currency_formats["standard"].pattern)
    pattern.frac_prec = (0, 0)
    text = pattern.apply(amount, locale, currency=currency, currency_digits=False)
    # A currency code written straight onto the digits reads badly: "DKK48,000".
    return _CODE_BEFORE_DIGIT.sub("\\1 ", _plain(text))


def local_time(moment: datetime) -> datetime:
    """`moment` in Copenhagen time; a naive time is taken as UTC (how the database stores it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TIMEZONE)


def format_datetime(moment: datetime | None, lang: str) -> str:
    """Date and time in Copenhagen with the zone stated: "1. jul. 2026 14.05 CEST"."""
    if moment is None:
        return "–"
    local = local_time(moment)
    locale = _locale(lang)
    return _plain(f"{_format_date(local, 'medium', locale=locale)} "
                  f"{_format_time(local, 'short', locale=locale)} {local.tzname()}")


def format_day(day: date | datetime | str | None, lang: str) -> str:
    """A date in the language's medium style: "1. jul. 2026" / "Jul 1, 2026"; an ISO date
    string as stored in descriptors is read first."""
    if day is None or day == "":
        return "–"
    if isinstance(day, str):
        text = day
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(day, datetime):
        day = local_time(day).date()
    return _plain(_format_date(day, "medium", locale=_locale(lang)))


# --- keeping the catalog up to date ----------------------------------------------------------

def extract_messages(root: Path) -> dict[str, tuple[str, ...] | str]:
    """Every translatable text in the code and templates under `root`, by its Danish msgid."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (root / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[str, tuple[str, ...] | str] = {}
    for _filename, _line, message, _comments, _context in extract_from_dir(
            str(root), method_map=method_map, options_map=options_map,
            keywords=EXTRACT_KEYWORDS):
        key = message if isinstance(message, str) else message[0]
        found[key] = message
    return found


def update_catalogs(root: Path) -> None:
    """Add new texts to each catalog (untranslated) and retire the ones no longer used."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    template = Catalog(project="marketplace", locale=None)
    for message in extract_messages(root).values():
        template.add(message)
    for po_path in sorted(CATALOG_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parent.parent.name)
        catalog.update(template, no_fuzzy_matching=True)
        with po_path.open("wb") as out:
            write_po(out, catalog, width=100, omit_header=False, sort_output=True,
                     ignore_obsolete=True, include_lineno=False)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "update":
        update_catalogs(Path(__file__).parent.parent)
        compile_catalogs()
    elif command == "compile":
        compile_catalogs()
    else:
        sys.exit("usage: python -m marketplace.languages update|compile")
