"""Printable documents: the verification hash, figures in the reader's language, the hash a
reader types, and the print style sheet WeasyPrint is given."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from flask import render_template_string

from marketplace.errors import Invalid
from marketplace.web import documents
from tests.documents import assert_tagged_with_page_numbers, pdf_content_sha256, pdf_text


def test_hash_is_of_canonical_json_whatever_the_key_order():
    first = documents.content_sha256({"b": [1, 2], "a": "Æblegrød"})
    assert first == documents.content_sha256({"a": "Æblegrød", "b": [1, 2]})
    expected = hashlib.sha256('{"a":"Æblegrød","b":[1,2]}'.encode()).hexdigest()
    assert first == expected
    assert documents.content_sha256({"a": "Æblegrød", "b": [2, 1]}) != first


@pytest.mark.parametrize(("lang", "value", "shown"), [
    ("da", 48_000, "48.000"), ("en", 48_000, "48,000"), ("da", 58.8, "58,8"),
    ("en", 58.8, "58.8"), ("da", 1234.25, "1.234,25"), ("da", None, "–"), ("da", 0, "0"),
])
def test_figures_are_written_as_the_reader_writes_them(app, lang, value, shown):
    with app.test_request_context(f"/?lang={lang}"):
        app.preprocess_request()
        assert documents.figure(value) == shown


@pytest.mark.parametrize(("typed", "read"), [
    (None, None), ("", None), ("   ", None),
    ("AB" * 32, "ab" * 32), ("ab" * 16 + " \n" + "cd" * 16, "ab" * 16 + "cd" * 16),
])
def test_a_typed_hash_is_read_leniently(typed, read):
    assert documents.read_sha256(typed) == read


@pytest.mark.parametrize("typed", ["g" * 64, "ab" * 31, "ab" * 33, "<script>", "a" * 10_000,
                                   "sha256:" + "ab" * 32])
def test_anything_but_a_hash_is_refused_naming_the_field(typed):
    with pytest.raises(Invalid) as refused:
        documents.read_sha256(typed)
    assert refused.value.errors[0]["field"] == "sha256"


def test_checking_tells_match_mismatch_and_why_a_hash_was_refused(app):
    content = {"samtykke": "ja"}
    digest = documents.content_sha256(content)
    facts = documents.DocumentFacts(kind="Kvittering", source="Kilde", content=content,
                                    generated_at=datetime(2026, 12, 1, 23, 30, tzinfo=UTC),
                                    verify_url="/x")
    with app.test_request_context("/"):
        assert documents.checking(facts, digest.upper()).matches is True
        assert documents.checking(facts, "cd" * 32).matches is False
        refused = documents.checking(facts, "nope")
        assert refused.matches is None and "64 tegn" in refused.check_error
    assert facts.local_time == "2. dec. 2026 00.30 CET"  # Copenhagen, past midnight


def test_print_css_leaves_out_screen_only_rules(app):
    with app.app_context():
        css = documents.print_css("growth.css")
    assert "@page" in css and "running(doc-footer)" in css
    assert "max-width: 480px" not in css and "@media print" in css


def test_a_long_document_is_tagged_and_numbered_on_every_page(app, caplog):
    body = "".join(f"<p>Afsnit {n}: æøå</p>" for n in range(200))
    template = ('{% extends "web/document.html" %}{% block title %}Prøve{% endblock %}'
                '{% block content %}<h1>Prøve</h1>' + body + '{% endblock %}')
    facts = documents.DocumentFacts(kind="Prøve", source="Testkilde", content={"afsnit": 200},
                                    generated_at=datetime(2026, 12, 1, tzinfo=UTC),
                                    verify_url="/x")
    with app.test_request_context("/"):
        app.preprocess_request()
        html = render_template_string(template, document=facts,
                                      print_css=documents.print_css())
        pdf = documents.render_pdf(html, content=facts.content)
    pages = assert_tagged_with_page_numbers(pdf, lang="da")
    assert len(pages) > 2
    assert all("Kilde: Testkilde" in page and f"SHA-256 {facts.sha256[:16]}" in page
               for page in pages)
    assert pdf_content_sha256(pdf) == facts.sha256
    assert "Afsnit 199: æøå" in pdf_text(pdf)
    assert not [r for r in caplog.records if r.name == "weasyprint" and r.levelname != "INFO"]


@pytest.mark.parametrize("src", ["http://192.0.2.1/x.png", "file:///etc/passwd"])
def test_a_document_that_reaches_out_fetches_nothing(app, caplog, src):
    html = ('<!doctype html><html lang="da"><head><title>x</title></head><body>'
            f'<img src="{src}" alt="x"><p>Tekst</p></body></html>')
    with app.app_context():
        pdf = documents.render_pdf(html)
    assert "Tekst" in pdf_text(pdf)
    assert any("disallowed protocol" in r.getMessage() for r in caplog.records)
