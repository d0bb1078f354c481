"""The procurement dossier of a test course: what a buyer needs, as data and as a PDF (pure).

The region's 2015 idea platform died because nothing it produced reached procurement. The
dossier carries a finished test course's evidence into the inputs the region's value-based
procurement asks for (need, value, market) and tells a municipality whether the yearly cost is
under the DKK 50,000 it can buy directly.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from fpdf import FPDF

from marketplace import languages
from marketplace.languages import N_, translate
from marketplace.testbeds.lifecycle import EFFECT_DIMENSIONS, Dimension, status_label
from marketplace.testbeds.matching import Vocabulary

DIRECT_PURCHASE_LIMIT_DKK = 50_000
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

TEXT = {
    "heading": N_("Indkøbsdossier"),
    "solution": N_("Løsningen"),
    "company": N_("Virksomhed"),
    "themes": N_("Temaer"),
    "target_groups": N_("Målgrupper"),
    "trl": N_("Teknologisk modenhed (TRL)"),
    "tested": N_("Hvor og hvordan den er testet"),
    "environment": N_("Testmiljø"),
    "hosts": N_("Værter"),
    "period": N_("Periode"),
    "goal": N_("Formål med testforløbet"),
    "status": N_("Status"),
    "participants": N_("Planlagte deltagere"),
    "timeline": N_("Forløb"),
    "evidence_heading": N_("Effekt på de fire dimensioner"),
    "not_measured": N_("Ikke målt"),
    "baseline": N_("Før"),
    "result": N_("Efter"),
    "change": N_("Forbedring"),
    "recorded_by": N_("Registreret af"),
    "host": N_("vært"),
    "company_party": N_("virksomhed"),
    "files": N_("Dokumentation"),
    "no_files": N_("Ingen filer vedlagt"),
    "economy": N_("Økonomi"),
    "yearly_cost": N_("Årlig pris"),
    "cost_unknown": N_("Ikke oplyst"),
    "direct_yes": N_("Under kommunernes direkte indkøbsgrænse på 50.000 kr. om året: en kommune "
                   "kan købe direkte."),
    "direct_no": N_("Over kommunernes direkte indkøbsgrænse på 50.000 kr. om året: kræver et "
                  "indkøbsforløb."),
    "value_based": N_("Input til værdibaseret indkøb"),
    "need": N_("Behov"),
    "value": N_("Værdi"),
    "market": N_("Marked"),
    "missing": N_("Mangler"),
    "procurement": N_("Indkøb"),
    "procurement_started": N_("Innovativt indkøb startet af {buyer} den {date}"),
    "procurement_not_started": N_("Intet indkøb startet endnu"),
    "generated": N_("Dannet {date}"),
}


def text(key: str, lang: str, **values: object) -> str:
    return translate(TEXT[key], lang, **values)


@dataclass(frozen=True)
class DossierOutcome:
    dimension: str
    party: str
    metric: str
    unit: str
    baseline: float | None
    result: float
    change: float | None
    note: str


@dataclass(frozen=True)
class DossierEvidence:
    id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    dimension: str | None


@dataclass(frozen=True)
class DossierProcurement:
    buyer: str
    started_at: datetime


@dataclass(frozen=True)
class Dossier:
    course_id: int
    title: str
    status: str
    goal: str
    company_name: str
    company_country: str
    solution_name: str
    solution_description: str
    themes: tuple[str, ...]
    target_groups: tuple[str, ...]
    trl: int | None
    environment_name_da: str
    environment_name_en: str
    hosts: tuple[str, ...]
    planned_start: date | None
    planned_end: date | None
    participants_planned: int | None
    yearly_cost_dkk: int | None
    need: str
    value: str
    market: str
    generated_at: datetime
    outcomes: tuple[DossierOutcome, ...] = ()
    evidence: tuple[DossierEvidence, ...] = ()
    procurement: DossierProcurement | None = None
    timeline: tuple[tuple[str, date], ...] = ()
    missing: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        wanted = {
            "yearly_cost": self.yearly_cost_dkk is None,
            "need": not self.need,
            "value": not self.value,
            "market": not self.market,
            "evidence_heading": not self.outcomes,
        }
        object.__setattr__(self, "missing", tuple(key for key, gap in wanted.items() if gap))

    @property
    def within_direct_purchase(self) -> bool | None:
        """Whether a municipality may buy it directly (None when the cost is unknown)."""
        if self.yearly_cost_dkk is None:
            return None
        return self.yearly_cost_dkk <= DIRECT_PURCHASE_LIMIT_DKK

    def environment_name(self, lang: str) -> str:
        return self.environment_name_en if lang == "en" else self.environment_name_da

    def by_dimension(self) -> list[tuple[Dimension, list[DossierOutcome]]]:
        """All four effect dimensions, each with its recorded outcomes (possibly none)."""
        return [
            (dimension, [o for o in self.outcomes if o.dimension == code])
            for code, dimension in EFFECT_DIMENSIONS.items()
        ]


def format_number(value: float | None, lang: str) -> str:
    if value is None:
        return "–"
    return languages.format_number(value, lang, 0 if value == int(value) else 2)


def format_change(change: float | None, lang: str) -> str:
    return languages.format_percent(change, lang, digits=0, signed=True)


def format_dkk(amount: int | None, lang: str) -> str:
    if amount is None:
        return text("cost_unknown", lang)
    return languages.format_money(amount, lang)


def _fallback(value: str) -> str:
    """Latin-1 text for the core PDF fonts when no Unicode font is installed."""
    replacements = {"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa",
                    "–": "-", "—": "-", "’": "'", "“": '"', "”": '"', "•": "-", "…": "..."}
    return "".join(_latin1(replacements.get(char, char)) for char in value)


def _latin1(text: str) -> str:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        # Keep the base letter of accented characters outside Latin-1, drop the rest.
        return unicodedata.normalize("NFKD", text).encode("latin-1", "ignore").decode("latin-1")
    return text


class _Document:
    """A thin writer over FPDF that picks a Unicode font when one is installed."""

    def __init__(self, font_dir: Path) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_margins(18, 18, 18)
        self.pdf.set_auto_page_break(auto=True, margin=18)
        regular, bold = font_dir / "DejaVuSans.ttf", font_dir / "DejaVuSans-Bold.ttf"
        self.clean: Callable[[str], str]
        if regular.exists() and bold.exists():
            self.pdf.add_font("DejaVu", "", str(regular))
            self.pdf.add_font("DejaVu", "B", str(bold))
            self.family, self.clean = "DejaVu", str
        else:
            self.family, self.clean = "Helvetica", _fallback
        self.pdf.add_page()

    def heading(self, value: str, size: int = 13) -> None:
        self.pdf.set_font(self.family, "B", size)
        self.pdf.ln(2)
        self.pdf.multi_cell(0, size * 0.55, self.clean(value), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1)

    def paragraph(self, value: str, *, bold: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", 10)
        self.pdf.multi_cell(0, 5.2, self.clean(value), new_x="LMARGIN", new_y="NEXT")

    def field(self, label: str, value: str) -> None:
        self.paragraph(f"{label}: {value}")

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def render_pdf(dossier: Dossier, *, lang: str, vocabulary: Vocabulary,
               font_dir: Path = FONT_DIR) -> bytes:
    """Render the dossier as a PDF in Danish or English."""
    doc = _Document(font_dir)
    doc.pdf.set_title(f"{text('heading', lang)}: {dossier.title}")
    doc.heading(f"{text('heading', lang)}: {dossier.title}", size=16)
    doc.paragraph(text("generated", lang, date=languages.format_day(dossier.generated_at, lang)))

    doc.heading(text("solution", lang))
    doc.field(text("company", lang), f"{dossier.company_name} ({dossier.company_country})")
    doc.paragraph(dossier.solution_name, bold=True)
    if dossier.solution_description:
        doc.paragraph(dossier.solution_description)
    doc.field(text("themes", lang), vocabulary.labels("themes", dossier.themes, lang) or "–")
    doc.field(text("target_groups", lang),
              vocabulary.labels("target_groups", dossier.target_groups, lang) or "–")
    doc.field(text("trl", lang), str(dossier.trl or "–"))

    doc.heading(text("tested", lang))
    doc.field(text("environment", lang), dossier.environment_name(lang))
    doc.field(text("hosts", lang), ", ".join(dossier.hosts))
    period = f"{dossier.planned_start or '–'} – {dossier.planned_end or '–'}"
    doc.field(text("period", lang), period)
    doc.field(text("status", lang), status_label(dossier.status, lang))
    if dossier.participants_planned is not None:
        doc.field(text("participants", lang), str(dossier.participants_planned))
    if dossier.goal:
        doc.field(text("goal", lang), dossier.goal)
    if dossier.timeline:
        doc.field(text("timeline", lang), ", ".join(
            f"{status_label(status, lang)} {languages.format_day(day, lang)}"
            for status, day in dossier.timeline))

    doc.heading(text("evidence_heading", lang))
    for dimension, outcomes in dossier.by_dimension():
        doc.paragraph(dimension.label(lang), bold=True)
        if not outcomes:
            doc.paragraph(text("not_measured", lang))
        for outcome in outcomes:
            party = text("host" if outcome.party == "host" else "company_party", lang)
            doc.paragraph(
                f"{outcome.metric}: {text('baseline', lang)} "
                f"{format_number(outcome.baseline, lang)} {outcome.unit}, "
                f"{text('result', lang)} {format_number(outcome.result, lang)} "
                f"{outcome.unit}; {text('change', lang)} {format_change(outcome.change, lang)} "
                f"({text('recorded_by', lang)} {party})"
            )
            if outcome.note:
                doc.paragraph(outcome.note)
    doc.paragraph(text("files", lang) + ":", bold=True)
    if not dossier.evidence:
        doc.paragraph(text("no_files", lang))
    for evidence in dossier.evidence:
        doc.paragraph(f"{evidence.filename} ({format_number(evidence.size_bytes, lang)} B, SHA-256 "
                      f"{evidence.sha256[:16]}…)")

    doc.heading(text("economy", lang))
    doc.field(text("yearly_cost", lang), format_dkk(dossier.yearly_cost_dkk, lang))
    if dossier.within_direct_purchase is not None:
        doc.paragraph(text("direct_yes" if dossier.within_direct_purchase else "direct_no", lang))

    doc.heading(text("value_based", lang))
    for key, value in (("need", dossier.need), ("value", dossier.value),
                       ("market", dossier.market)):
        doc.paragraph(text(key, lang), bold=True)
        doc.paragraph(value or text("cost_unknown", lang))
    if dossier.missing:
        doc.field(text("missing", lang), ", ".join(text(key, lang) for key in dossier.missing))

    doc.heading(text("procurement", lang))
    if dossier.procurement:
        doc.paragraph(text("procurement_started", lang, buyer=dossier.procurement.buyer,
                           date=languages.format_day(dossier.procurement.started_at, lang)))
    else:
        doc.paragraph(text("procurement_not_started", lang))
    return doc.output()
