"""Every event the platform writes to the audit chain has a name in words, in both languages."""
from __future__ import annotations

import re
from pathlib import Path

import marketplace
from marketplace.admin.events import EVENT_LABELS
from marketplace.web.i18n import english

SOURCE = Path(marketplace.__file__).parent


def test_every_written_event_has_a_label():
    written = set()
    for path in SOURCE.rglob("*.py"):
        written |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text()))
    assert written, "the audit writers moved; look for them again"
    assert sorted(written - set(EVENT_LABELS)) == []


def test_every_label_has_its_english():
    assert [label for label in EVENT_LABELS.values() if label not in english()] == []
