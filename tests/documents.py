"""Reading the PDFs the marketplace hands out, as a reader's tools would."""
import hashlib
import io
import json
import re

from pypdf import PdfReader


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, whitespace folded to single spaces."""
    reader = PdfReader(io.BytesIO(data))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def pdf_text(data: bytes) -> str:
    return " ".join(pdf_pages(data))


def pdf_content_sha256(data: bytes) -> str:
    """The SHA-256 of the content file the PDF carries, as anyone holding it can compute."""
    (content,) = PdfReader(io.BytesIO(data)).attachments["indhold.json"]
    json.loads(content)  # it is the document's content as JSON
    return hashlib.sha256(content).hexdigest()


def pdf_catalog(data: bytes) -> dict:
    reader = PdfReader(io.BytesIO(data))
    return reader.trailer["/Root"]


def assert_tagged_with_page_numbers(data: bytes, *, lang: str = "da") -> list[str]:
    """A PDF/UA document: a structure tree, marked content, a language and a title, and every
    page numbered "Side n af N" (or "Page n of N"); returns the pages' text."""
    catalog = pdf_catalog(data)
    assert "/StructTreeRoot" in catalog
    assert catalog["/MarkInfo"]["/Marked"]
    assert catalog["/Lang"] == lang
    assert PdfReader(io.BytesIO(data)).metadata.title
    pages = pdf_pages(data)
    word, of = ("Side", "af") if lang == "da" else ("Page", "of")
    for number, text in enumerate(pages, start=1):
        assert re.search(rf"{word} {number} {of} {len(pages)}\b", text), text[-200:]
    return pages
