"""Responses the testbeds API and pages share: an environment's JSON, evidence and dossier files."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, render_template, url_for

from marketplace.db import get_session, utcnow
from marketplace.identity.auth import current_principal
from marketplace.security import current_keyring
from marketplace.testbeds import dossier as dossiers
from marketplace.testbeds import lifecycle, serialise, services
from marketplace.web import documents
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _


def environment_json(environment: Any, *, slots: dict[int, int]) -> dict[str, Any]:
    datasets = services.environment_datasets(get_session(), environment=environment)
    return serialise.environment_to_json(environment, lang=current_language(),
                                         free_slots=slots.get(environment.id, 0),
                                         datasets=datasets)


def evidence_response(evidence_id: int) -> Response:
    evidence, data = services.read_evidence(
        get_session(), actor=current_principal(), evidence_id=evidence_id,
        keyring=current_keyring(), data_dir=current_app.config["DATA_DIR"],
    )
    response = Response(data, mimetype=evidence.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{evidence.filename}"'
    return response


def dossier_facts(dossier: dossiers.Dossier, *, asked: str | None = None
                  ) -> documents.DocumentFacts:
    """The dossier's source, date and verification hash; `asked` is a hash to check."""
    source = _("Sundhedsdatamarkedspladsen: testforløb nr. {id} i {environment}, med resultater "
               "registreret af {hosts} og {company} og {files} vedlagte dokumentationsfiler",
               id=dossier.course_id, environment=dossier.environment_name(current_language()),
               hosts=", ".join(dossier.hosts), company=dossier.company_name,
               files=len(dossier.evidence))
    return documents.checking(documents.DocumentFacts(
        kind=_("Indkøbsdossier"), source=source, generated_at=dossier.generated_at,
        content=serialise.dossier_content(dossier),
        verify_url=url_for("testbeds.dossier_page", course_id=dossier.course_id,
                           _external=True)), asked)


def dossier_document(dossier: dossiers.Dossier, *, printable: bool, asked: str | None = None
                     ) -> tuple[str, documents.DocumentFacts]:
    """The dossier as one HTML document: its page, and (printable) the source of its PDF."""
    facts = dossier_facts(dossier, asked=asked)
    html = render_template(
        "testbeds/dossier.html", dossier=dossier, document=facts, printable=printable,
        print_css=documents.print_css("testbeds.css") if printable else "",
        vocabulary=services.VOCABULARY, status_label=lifecycle.status_label,
        lang=current_language(), number=documents.figure)
    return html, facts


def build_dossier(course_id: int) -> dossiers.Dossier:
    return services.build_dossier(get_session(), actor=current_principal(),
                                  course_id=course_id, now=utcnow())


def dossier_pdf_response(course_id: int) -> Response:
    html, facts = dossier_document(build_dossier(course_id), printable=True)
    return documents.pdf_response(
        html, facts, filename=f"indkoebsdossier-testforloeb-{course_id}.pdf")
