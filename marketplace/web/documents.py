"""Printable documents: one HTML template renders both the page and its tagged PDF.

A document (the procurement dossier, the procurement case, the consent receipt) is written once
as a Jinja template. In the browser it extends `base.html`; for the PDF it extends
`web/document.html`, a print layout with page numbers and a running footer that names the
source, the date and the verification hash, and WeasyPrint renders it as PDF/UA (tagged, with a
structure tree), so the words and figures on paper are the ones on the screen.

The verification hash is the SHA-256 of the document's content as canonical JSON (keys sorted,
no spaces, UTF-8), without the moment it was printed: the same content always gives the same
hash, and any change of content gives another. The PDF carries that JSON as an attachment, so
the hash can be recomputed from the file alone; the page checks a typed hash against the
current content.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from flask import Response, current_app

from marketplace.errors import Invalid
from marketplace.web.i18n import format_datetime, format_number
from marketplace.web.i18n import gettext as _

PDF_VARIANT = "pdf/ua-1"
CONTENT_NAME = "indhold.json"  # the attachment whose SHA-256 is the printed hash
_SHA256 = re.compile(r"[0-9a-f]{64}")


def canonical_json(content: Mapping[str, Any]) -> bytes:
    """The content as canonical JSON: keys sorted, no spaces, UTF-8."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def content_sha256(content: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of the content's canonical JSON."""
    return hashlib.sha256(canonical_json(content)).hexdigest()


@dataclass(frozen=True)
class DocumentFacts:
    """What the footer and the closing section of every printable document state."""

    kind: str  # the document's name, e.g. "Indkøbsdossier" (already translated)
    source: str  # where its content comes from, in words (already translated)
    generated_at: datetime
    content: Mapping[str, Any]  # what the hash covers; travels inside the PDF
    verify_url: str  # the page where a hash can be checked against the current content
    checked: str | None = None  # a hash the reader asked to check
    check_error: str | None = None  # why the asked hash could not be read

    @cached_property
    def sha256(self) -> str:
        return content_sha256(self.content)

    @property
    def status(self) -> int:
        """The page's status: 422 when the reader's hash could not be read."""
        return 422 if self.check_error else 200

    @property
    def local_time(self) -> str:
        return format_datetime(self.generated_at)

    @property
    def matches(self) -> bool | None:
        """Whether the checked hash is the current content's (None when none was asked)."""
        return None if self.checked is None else self.checked == self.sha256


def figure(value: float | None) -> str:
    """A figure as the reader's language writes it: 48.000 and 58,8 in Danish, 48,000 and 58.8
    in English; a dash when there is none."""
    if value is None:
        return "–"
    return format_number(round(value, 2))


def read_sha256(value: str | None) -> str | None:
    """A hash the reader typed to check: 64 hex digits, spaces and case ignored.

    Raises Invalid (field `sha256`) for anything else; None when nothing was typed.
    """
    if value is None:
        return None
    cleaned = "".join(value.split()).lower()
    if not cleaned:
        return None
    if len(cleaned) > 200 or not _SHA256.fullmatch(cleaned):
        raise Invalid.field("sha256", _("En kontrolsum er 64 tegn, tallene 0–9 og bogstaverne "
                                        "a–f."))
    return cleaned


def checking(facts: DocumentFacts, asked: str | None) -> DocumentFacts:
    """The facts with the reader's hash checked, or with why it could not be read."""
    try:
        return replace(facts, checked=read_sha256(asked))
    except Invalid as error:
        return replace(facts, check_error=(error.errors or [{"message": str(error)}])[0]["message"])


def print_css(*stylesheets: str) -> str:
    """The print layout's and the document's own style sheets (from static/),
    without their screen-only rules, which a printed page never applies."""
    import tinycss2  # WeasyPrint's own CSS parser

    folder = Path(current_app.static_folder or "")
    rules = []
    for name in ("document.css", *stylesheets):
        css = (folder / name).read_text(encoding="utf-8")
        rules += [rule for rule in tinycss2.parse_stylesheet(css, skip_whitespace=True)
                  if not _screen_only(rule)]
    return tinycss2.serialize(rules)


def _screen_only(rule: Any) -> bool:
    import tinycss2

    return (rule.type == "at-rule" and rule.lower_at_keyword == "media"
            and "screen" in tinycss2.serialize(rule.prelude).lower())


def render_pdf(html: str, *, content: Mapping[str, Any] | None = None) -> bytes:
    """Render a printable HTML document as a tagged PDF (PDF/UA-1).

    With `content`, its canonical JSON travels inside the PDF as the attachment
    `CONTENT_NAME`, so whoever holds the file can recompute the printed hash without us.
    """
    from weasyprint import HTML, Attachment, URLFetcher  # heavy, needed only for a PDF

    # No protocol allowed: the document never fetches anything, from the network or the disk.
    offline = URLFetcher(allowed_protocols=frozenset())
    attachments = [] if content is None else [Attachment(
        string=canonical_json(content).decode("utf-8"), name=CONTENT_NAME,
        description=_("Dokumentets indhold; kontrolsummen er SHA-256 af denne fil"),
        relationship="Data", url_fetcher=offline)]
    return HTML(string=html, url_fetcher=offline).write_pdf(
        pdf_variant=PDF_VARIANT, attachments=attachments)


def pdf_response(html: str, facts: DocumentFacts, *, filename: str) -> Response:
    """The printable document as a PDF download, carrying the content its hash covers."""
    response = Response(render_pdf(html, content=facts.content), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
