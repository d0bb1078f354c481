"""Every Danish text of the growth pipeline, on pages and in refusals, has its English."""
import re
from pathlib import Path

import pytest

from marketplace.growth import procurement
from marketplace.web.i18n import english

ROOT = Path(__file__).resolve().parents[2] / "marketplace"
SOURCES = [*sorted((ROOT / "web/templates/growth").glob("*.html")),
           *sorted((ROOT / "growth").glob("*.py"))]
TEXT = re.compile(r"""_\(\s*(["'])(.+?)\1""")
# Refusals raised by services carry their Danish text as the first string argument.
REFUSAL = re.compile(r"""(?:conflict|forbidden|not_found|invalid_field)\((?:\s*f?"[^"]*",)?"""
                     r"""\s*((?:"[^"]*"\s*)+)""")
MOVE = re.compile(r"""MoveProblem\(\s*"\w+",\s*((?:"[^"]*"\s*)+)""")
CARD = re.compile(r"""errors\.append\(\(f?"[^"]*",\s*((?:"[^"]*"\s*)+)""")


def _joined(literal_run: str) -> str:
    return "".join(re.findall(r'"([^"]*)"', literal_run))


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_every_text_is_translated(source):
    text = source.read_text(encoding="utf-8")
    texts = {match.group(2) for match in TEXT.finditer(text)}
    for pattern in (REFUSAL, MOVE, CARD):
        texts |= {_joined(match.group(1)) for match in pattern.finditer(text)}
    assert sorted(texts - english().keys()) == []


def test_route_reasons_are_translated():
    assert sorted(set(procurement.ROUTE_REASONS.values()) - english().keys()) == []
