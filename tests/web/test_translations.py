"""The English catalog covers every Danish text, and the pages speak the chosen language."""
import io
import re
import textwrap
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from marketplace import languages

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w*)\}")


@pytest.fixture(scope="module")
def catalog():
    with languages.catalog_path("en").open("rb") as handle:
        return read_po(handle, locale="en")


@pytest.fixture(scope="module")
def extracted():
    return languages.extract_messages(ROOT)


def _key(message_id):
    return message_id if isinstance(message_id, str) else message_id[0]


def test_extraction_finds_texts_from_code_templates_and_markers(extracted):
    assert "Datakatalog" in extracted  # a template
    assert "ugyldige felter: {fields}" in extracted  # Python `_()`
    assert "skal udfyldes" in extracted  # an `N_()` marker (validation messages)
    assert isinstance(extracted["{count} datasæt fundet"], tuple)  # ngettext


def _strings(message):
    return message.string if isinstance(message.string, tuple) else (message.string,)


def untranslated(catalog, extracted):
    """The extracted texts that the catalog lacks, leaves without English or marks fuzzy."""
    return sorted(key for key, message_id in extracted.items()
                  if (entry := catalog.get(message_id)) is None or entry.fuzzy
                  or not all(_strings(entry)))


def doubtful(catalog):
    """Catalog entries marked fuzzy or with an empty translation."""
    return sorted(_key(m.id) for m in catalog if m.id and (m.fuzzy or not all(_strings(m))))


def test_every_text_has_an_english_translation(catalog, extracted):
    assert untranslated(catalog, extracted) == [], "run `make translations` and translate these"


def test_no_entry_is_fuzzy_or_empty(catalog):
    assert doubtful(catalog) == []


def test_translations_keep_the_placeholders(catalog):
    broken = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = {name for text in ids for name in PLACEHOLDER.findall(text)}
        if any(set(PLACEHOLDER.findall(string)) - wanted for string in _strings(message)):
            broken.append(_key(message.id))
    assert broken == []


def test_the_checks_catch_a_missing_a_fuzzy_and_an_empty_entry():
    po = io.BytesIO(textwrap.dedent("""\
        msgid ""
        msgstr ""
        "Content-Type: text/plain; charset=utf-8\\n"

        #, fuzzy
        msgid "Gem"
        msgstr "Save"

        msgid "Slet"
        msgstr ""

        msgid "Ja"
        msgstr "Yes"
        """).encode())
    catalog = read_po(po, locale="en")
    extracted = {"Gem": "Gem", "Slet": "Slet", "Ja": "Ja", "Nej": "Nej"}
    assert untranslated(catalog, extracted) == ["Gem", "Nej", "Slet"]
    assert doubtful(catalog) == ["Gem", "Slet"]


# --- the catalog in use ----------------------------------------------------------------------

def test_english_maps_danish_texts_to_their_translation():
    from marketplace.web.i18n import english

    assert english()["Datakatalog"] == "Data catalogue"


def test_plurals_follow_the_count_in_both_languages():
    one = languages.translate_plural("{count} datasæt fundet", "{count} datasæt fundet", 1, "en")
    many = languages.translate_plural("{count} datasæt fundet", "{count} datasæt fundet", 1200,
                                      "en")
    assert (one, many) == ("1 dataset found", "1,200 datasets found")
    rows = languages.translate_plural("{count} række fejler", "{count} rækker fejler", 1, "da")
    assert rows == "1 række fejler"
    assert languages.translate_plural(
        "{count} række fejler", "{count} rækker fejler", 3000, "da") == "3.000 rækker fejler"


def test_numbers_money_and_percentages_follow_the_language():
    assert languages.format_percent(0.588, "da") == "58,8 %"
    assert languages.format_percent(0.588, "en") == "58.8%"
    assert languages.format_number(4.7, "da", digits=2) == "4,70"
    assert languages.format_number(4.7, "en", digits=2) == "4.70"
    assert languages.format_money(48000, "da") == "48.000 kr."
    assert languages.format_money(48000, "en") == "DKK 48,000"
    assert languages.format_percent(-0.25, "da", digits=0, signed=True) == "-25 %"
    assert languages.format_percent(0.25, "en", digits=0, signed=True) == "+25%"


def test_times_are_shown_in_copenhagen_with_the_zone():
    from datetime import UTC, datetime

    summer = datetime(2026, 7, 1, 12, 5, tzinfo=UTC)
    winter = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)
    assert languages.format_datetime(summer, "da") == "1. jul. 2026 14.05 CEST"
    assert languages.format_datetime(winter, "da") == "16. jan. 2026 00.30 CET"
    assert languages.format_datetime(summer, "en") == "Jul 1, 2026 2:05 PM CEST"
    # Dates stored as ISO text in descriptors read the same; text that is no date stays as it is.
    assert languages.format_day("2015-01-01", "da") == "1. jan. 2015"
    assert languages.format_day("2015-01-01", "en") == "Jan 1, 2015"
    assert languages.format_day("sommer 2015", "da") == "sommer 2015"
    # A naive time from the database is UTC.
    assert languages.format_datetime(summer.replace(tzinfo=None), "da").endswith("14.05 CEST")


def test_pages_switch_language_and_remember_it(client):
    danish = client.get("/catalog").get_data(as_text=True)
    assert "Datakatalog" in danish and 'lang="da"' in danish
    english = client.get("/catalog?lang=en").get_data(as_text=True)
    assert "Data catalogue" in english and 'lang="en"' in english
    again = client.get("/catalog").get_data(as_text=True)
    assert 'lang="en"' in again
    back = client.get("/catalog?lang=da").get_data(as_text=True)
    assert 'lang="da"' in back


def test_validation_messages_follow_the_language(client):
    """A refused body names the field in Danish by default and in English on request."""
    danish = client.post("/api/v1/feasibility", json={"datasets": "x"}).get_json()
    english = client.post("/api/v1/feasibility?lang=en", json={"datasets": "x"}).get_json()
    assert danish["title"] == "Ugyldigt input" and english["title"] == "Invalid input"
