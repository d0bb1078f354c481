"""Responses the testbeds API and pages share: an environment's JSON, evidence and dossier files."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app

from marketplace.db import get_session, utcnow
from marketplace.identity.auth import current_principal
from marketplace.security import current_keyring
from marketplace.testbeds import dossier as dossiers
from marketplace.testbeds import serialise, services
from marketplace.web.i18n import current_language


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


def dossier_pdf_response(course_id: int) -> Response:
    dossier = services.build_dossier(get_session(), actor=current_principal(),
                                     course_id=course_id, now=utcnow())
    pdf = dossiers.render_pdf(dossier, lang=current_language(), vocabulary=services.VOCABULARY)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="indkoebsdossier-testforloeb-{course_id}.pdf"'
    )
    return response
