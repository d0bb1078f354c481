"""Other organisations' objects: an id never reveals that something exists.

The rule, in every domain: an object the caller may not know about (another organisation's
application, permit, extract, job, output, statistics request, test course, solution profile,
procurement case, draft dataset) is answered exactly as an id that does not exist, 404 for a
lookup (or the same 422 where an id is a field of a body). 403 is kept for objects the caller
may see but not change (a published dataset of another holder, a permit a holder sees but only
the company uses).

Every API route with an id in its path is walked (new routes are covered automatically) on the
demo world, as a company that is party to nothing, with each method the route has.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from marketplace.access.models import AccessRequest, Permit
from marketplace.catalog import services as catalog_services
from marketplace.catalog.descriptor import Descriptor
from marketplace.catalog.models import Dataset
from marketplace.db import session_scope
from marketplace.delivery.models import Extract
from marketplace.growth.models import Evidence, Opportunity, ProcurementCase
from marketplace.identity import services as identity
from marketplace.identity.models import User
from marketplace.statistics.models import StatisticsRequest
from marketplace.testbeds.models import SolutionProfile, TestCourse, TestEnvironment
from marketplace.workspace.models import WorkspaceJob, WorkspaceOutput
from tests.delivery.conftest import descriptor

MISSING = 2_147_483_647
COMPANY_SCOPES = "access:request workspace:run statistics:request growth:write"
# The objects behind each kind of id; all belong to the demo's organisations, none to the
# caller. Objects anyone may see (published datasets, test environments, the network's
# opportunities and their evidence) are public knowledge: a lookup of them proves nothing.
HIDDEN: dict[str, Any] = {
    "access-requests:request_id": AccessRequest,
    "statistics-requests:request_id": StatisticsRequest,
    "permit_id": Permit,
    "extract_id": Extract,
    "job_id": WorkspaceJob,
    "output_id": WorkspaceOutput,
    "course_id": TestCourse,
    "profile_id": SolutionProfile,
    "case_id": ProcurementCase,
}
PUBLIC: dict[str, Any] = {"environment_id": TestEnvironment, "opportunity_id": Opportunity,
                          "evidence_id": Evidence}


def _id_routes(app: Flask) -> list[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and "<int:" in rule.rule:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.add((method, rule.rule))
    return sorted(routes)


@pytest.fixture(scope="module")
def outsider(demo_app: Flask) -> dict[str, Any]:
    """A company party to nothing, its bearer token, and a draft dataset of a demo holder."""
    app = demo_app
    with session_scope(app) as session:
        org = identity.get_org(session, slug="outsider-company") or identity.create_org(
            session, slug="outsider-company", name="Outsider", kind="company", country="DK",
            accredited=True)
        session.flush()
        issued = identity.create_api_client(session, keyring=app.extensions[
            "marketplace.keyring"], org=org, scopes=COMPANY_SCOPES)
        holder = session.scalars(sa.select(User).where(User.role == "holder_admin")).first()
        assert holder is not None
        draft = catalog_services.create_dataset(
            session, actor=identity.staff_principal(holder),
            descriptor=Descriptor.model_validate(descriptor(title="Kladde")))
        session.flush()
        ids = {"dataset_id": draft.id}
        if session.scalar(sa.select(sa.func.count(StatisticsRequest.id))) == 0:
            _answered_statistics_request(session)
        if session.scalar(sa.select(sa.func.count(WorkspaceOutput.id))) == 0:
            _job_with_output(session)
        missing = []
        for name, model in {**HIDDEN, **PUBLIC}.items():
            found = session.scalar(sa.select(sa.func.min(model.id)))
            if found is None:
                missing.append(model.__name__)
            ids[name] = found
        assert missing == [], f"the demo world holds none of {missing}"
        client_id, secret = issued.client.client_id, issued.secret
    client = app.test_client()
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(client_id, secret)).get_json()["access_token"]
    return {"client": client, "headers": {"Authorization": f"Bearer {token}"}, "ids": ids}


def _job_with_output(session: Any) -> None:
    """A finished workspace job of a demo company with one output (the demo runs none)."""
    permit = session.scalars(sa.select(Permit)).first()
    job = WorkspaceJob(permit_id=permit.id, company_org_id=permit.company_org_id, name="Tabel",
                       script="print(1)", script_sha256="0" * 64, submitted_by="demo",
                       status="succeeded", progress=1.0, attempts=1, log="")
    session.add(job)
    session.flush()
    session.add(WorkspaceOutput(job_id=job.id, permit_id=permit.id, name="tabel.csv",
                                byte_size=1, sha256="0" * 64, media_type="text/csv"))
    session.flush()


def _answered_statistics_request(session: Any) -> None:
    """A released statistics request of a demo company (the demo makes none)."""
    company = session.scalars(sa.select(Permit.company_org_id)).first()
    dataset = session.scalars(sa.select(Dataset.id).where(Dataset.status == "published")).first()
    session.add(StatisticsRequest(
        company_org_id=company, dataset_id=dataset, requested_by="demo", title="Optælling",
        purpose="company_research", description="Antal personer", cohort={}, group_by=[],
        measures=[{"kind": "count_persons"}], method="sdc", status="released",
        decision={"outcome": "released"}, result={"columns": [], "rows": []}))
    session.flush()


def _path(rule: str, ids: dict[str, int], *, hidden: str) -> str | None:
    """The rule's path with the hidden object's id for `hidden` and real ids elsewhere."""
    family = rule.split("/")[3]

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == hidden:
            key = f"{family}:{name}" if f"{family}:{name}" in ids else name
            return str(ids[key])
        return str(ids.get(f"{family}:{name}", ids.get(name, MISSING)))

    return re.sub(r"<(?:int:)?(\w+)>", lambda m: fill(m) if m.group(0).startswith("<int:")
                  else "need", rule)


def _answer(client: FlaskClient, method: str, path: str, headers: dict[str, str]
            ) -> tuple[int, str | None]:
    response = client.open(path, method=method, headers=headers, json={})
    body = response.get_json(silent=True) or {}
    return response.status_code, body.get("title")


@pytest.mark.slow
def test_another_organisations_object_is_answered_as_a_missing_one(outsider) -> None:
    client, headers, ids = outsider["client"], outsider["headers"], outsider["ids"]
    checked: list[str] = []
    differing: list[str] = []
    for method, rule in _id_routes(client.application):
        family = rule.split("/")[3]
        names = re.findall(r"<int:(\w+)>", rule)
        hidden = next((n for n in names if (n in ids or f"{family}:{n}" in ids)
                       and n not in PUBLIC), None)
        if hidden is None:
            continue
        key = f"{family}:{hidden}"
        if hidden == "request_id" and key not in ids:
            continue
        if hidden == "dataset_id" and family != "datasets":
            continue
        existing = _path(rule, ids, hidden=hidden)
        missing = _path(rule, {**ids, key: MISSING, hidden: MISSING}, hidden=hidden)
        assert existing and missing
        got, expected = (_answer(client, method, existing, headers),
                         _answer(client, method, missing, headers))
        checked.append(f"{method} {rule}")
        if got != expected or got[0] == 200:
            differing.append(f"{method} {rule}: {got} for another's, {expected} for missing")
    assert differing == []
    # Every kind of object was looked up through its own routes.
    assert len(checked) >= 30, checked
    for kind in ("access-requests", "permits", "extracts", "jobs", "outputs",
                 "statistics-requests", "test-courses", "solution-profiles",
                 "procurement-cases", "datasets"):
        assert any(f"/api/v1/{kind}/" in c for c in checked), kind
