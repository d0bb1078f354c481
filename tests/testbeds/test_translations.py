"""Every Danish text on the testbeds pages has its English translation."""
import re
from pathlib import Path

import pytest

from marketplace.web.i18n import english

ROOT = Path(__file__).resolve().parents[2] / "marketplace"
SOURCES = [*sorted((ROOT / "web/templates/testbeds").glob("*.html")),
           ROOT / "testbeds/pages.py"]
TEXT = re.compile(r"""_\(\s*(["'])(.+?)\1""")


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_every_text_is_translated(source):
    texts = {match.group(2) for match in TEXT.finditer(source.read_text(encoding="utf-8"))}
    assert texts, "the file should have translatable text"
    assert sorted(texts - english().keys()) == []
