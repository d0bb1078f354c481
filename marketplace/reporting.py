"""The cluster's key figures, on top of the domains: GET /api/v1/kpis and the /kpis page.

Progress against Copenhagen Healthtech Cluster's targets needs figures from several domains
(test courses, published datasets, permits, the growth pipeline); gathering them here keeps the
domains free of one another's reporting. The targets themselves are data in `testbeds.kpis` and
`growth.kpis`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, render_template
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy.orm import Session

from marketplace.access import services as access_services
from marketplace.catalog import services as catalog_services
from marketplace.db import get_session, utcnow
from marketplace.growth import kpis as growth_kpis
from marketplace.testbeds import kpis as kpi_rules
from marketplace.testbeds import lifecycle
from marketplace.testbeds import services as testbeds_services
from marketplace.web import charts
from marketplace.web.api import PUBLIC, Out, responses
from marketplace.web.i18n import current_language
from marketplace.web.i18n import gettext as _

api = APIBlueprint("reporting_api", __name__, abp_tags=[Tag(name="key figures")])
bp = Blueprint("reporting", __name__)


class KpisOut(Out):
    """Each key figure by its code ({label_da, label_en, target, progress, met, value or
    share}), plus the counts behind the charts."""

    as_of: datetime
    test_courses_by_status: dict[str, int]
    datasets_by_level: dict[str, int]
    permits_by_level: dict[str, int]


def compute_kpis(session: Session, *, now: datetime) -> kpi_rules.KpiReport:
    """Progress against the cluster's targets, from the platform's records."""
    figures = testbeds_services.course_figures(session)
    return kpi_rules.build_report(
        courses_by_status=figures.courses_by_status,
        municipalities_involved=figures.municipalities_involved,
        hospitals_involved=figures.hospitals_involved,
        foreign_companies=figures.foreign_companies,
        procurements=figures.procurements,
        datasets_by_level=catalog_services.count_published_by_level(session),
        permits_by_level=access_services.count_permits_by_level(session),
        as_of=now,
    )


@api.get("/api/v1/kpis", responses=responses(200, KpisOut), security=PUBLIC)
def api_kpis() -> Response:
    """Progress against Copenhagen Healthtech Cluster's targets."""
    session, now = get_session(), utcnow()
    report = compute_kpis(session, now=now)
    # The pipeline's figures count test courses too, so they supersede same-named ones.
    return jsonify(kpi_rules.report_to_json(report) | growth_kpis.growth_kpis(session, now=now))


@bp.get("/kpis")
def kpis_page() -> str:
    report = compute_kpis(get_session(), now=utcnow())
    lang = current_language()
    level_names = {"national": _("Nationale"), "regional": _("Regionale"),
                   "municipal": _("Kommunale")}
    progress = [(kpi, charts.progress_bar(kpi.progress, label=kpi.label(lang)))
                for kpi in report.items]
    charts_by_name: dict[str, Any] = {
        "dataset_chart": charts.bar_chart(
            [(level_names[level], n) for level, n in report.datasets_by_level.items()],
            title=_("Udgivne datasæt pr. niveau")),
        "permit_chart": charts.bar_chart(
            [(level_names[level], n) for level, n in report.permits_by_level.items()],
            title=_("Aktive tilladelser pr. niveau")),
        "status_chart": charts.bar_chart(
            [(lifecycle.status_label(status, lang), report.courses_by_status.get(status, 0))
             for status in lifecycle.STATUS_LABELS],
            title=_("Testforløb pr. status")),
    }
    return render_template("testbeds/kpis.html", report=report, progress=progress,
                           level_names=level_names, lang=lang, **charts_by_name)
