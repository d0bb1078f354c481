"""Every Danish text of notifications, on pages and in mail, has its English with the same
{values}."""
import re
import string
from pathlib import Path

import pytest

from marketplace.notifications import kinds, mailer, services
from marketplace.notifications import views as notification_views
from marketplace.web.i18n import english

ROOT = Path(__file__).resolve().parents[2] / "marketplace"
SOURCES = [*sorted((ROOT / "web/templates/notifications").glob("*.html")),
           ROOT / "notifications/views.py", ROOT / "notifications/mailer.py"]
TEXT = re.compile(r"""_\(\s*(["'])(.+?)\1""")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_every_page_text_is_translated(source):
    texts = {match.group(2) for match in TEXT.finditer(source.read_text(encoding="utf-8"))}
    assert sorted(texts - english().keys()) == []


def test_every_notification_text_and_value_is_translated_with_the_same_values():
    texts = [t.label for t in kinds.TOPICS]
    texts += [text for kind in kinds.KINDS.values() for text in (kind.subject, kind.body)]
    texts += [label for labels in kinds.VALUE_LABELS.values() for label in labels.values()]
    texts += list(notification_views.MAIL_STATUS.values())
    texts += ["Se mere: {link}", "Du får denne besked fra Sundhedsdatamarkedspladsen. Vælg "
              "hvilke beskeder du får: {link}", "Sundhedsdatamarkedspladsen"]
    for text in texts:
        assert text in english(), text
        assert _fields(english()[text]) == _fields(text), text


def test_service_refusals_are_translated():
    source = (ROOT / "notifications/services.py").read_text(encoding="utf-8")
    refusals = re.findall(r'(?:Forbidden|NotFound|Invalid)\("([^"]+)"', source)
    refusals += re.findall(r'"message": "([^"]+)"', source)
    assert refusals and sorted(set(refusals) - english().keys()) == []
    assert services and mailer  # the modules whose texts are checked above
