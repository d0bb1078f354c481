"""The purpose taxonomy (policies/purposes.json): what citizens' data may or may not be used for.

Pure: reads the policy file once and hands out frozen dataclasses.
"""
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PURPOSES_FILE = Path(__file__).resolve().parents[2] / "policies" / "purposes.json"

_REQUIRED = ("code", "label_da", "label_en", "description_da", "description_en",
             "ehds_article", "duo", "commercial", "public_bodies_only", "prohibited")


@dataclass(frozen=True)
class Purpose:
    code: str
    label_da: str
    label_en: str
    description_da: str
    description_en: str
    ehds_article: str
    duo: str | None
    commercial: bool
    public_bodies_only: bool
    prohibited: bool
    # HL7 v3 ActReason code (FHIR purpose of use) used in consent receipts, when one fits.
    purpose_of_use: str | None = None

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_da

    def description(self, lang: str) -> str:
        return self.description_en if lang == "en" else self.description_da


@dataclass(frozen=True)
class Taxonomy:
    notice_version: str
    purposes: tuple[Purpose, ...]
    purpose_of_use_system: str = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

    def get(self, code: str) -> Purpose | None:
        return next((purpose for purpose in self.purposes if purpose.code == code), None)

    @property
    def selectable(self) -> tuple[Purpose, ...]:
        """The purposes a citizen can permit or deny (prohibited uses are never allowed)."""
        return tuple(purpose for purpose in self.purposes if not purpose.prohibited)


def parse_taxonomy(document: dict) -> Taxonomy:
    """Build the taxonomy from the policy document; raises ValueError when it is malformed."""
    notice_version = document.get("notice_version")
    if not isinstance(notice_version, str) or not notice_version:
        raise ValueError("purposes: notice_version missing")
    purposes = []
    for entry in document.get("purposes", []):
        missing = [name for name in _REQUIRED if name not in entry]
        if missing:
            raise ValueError(f"purpose {entry.get('code')!r} lacks {', '.join(missing)}")
        purposes.append(Purpose(**{name: entry[name] for name in _REQUIRED},
                                purpose_of_use=entry.get("purpose_of_use")))
    codes = [purpose.code for purpose in purposes]
    if len(set(codes)) != len(codes):
        raise ValueError("purposes: duplicate codes")
    if not purposes:
        raise ValueError("purposes: none defined")
    system = document.get("purpose_of_use_system") or Taxonomy.purpose_of_use_system
    return Taxonomy(notice_version=notice_version, purposes=tuple(purposes),
                    purpose_of_use_system=system)


@cache
def load_taxonomy(path: Path = PURPOSES_FILE) -> Taxonomy:
    """Read the purpose taxonomy; policies fail closed, so a broken file raises at first use."""
    return parse_taxonomy(json.loads(path.read_text(encoding="utf-8")))
