"""Two different output checkers release an output in the browser; the company downloads it.

Runs in Debian's Chromium with axe on every page, on a desktop (1280 px) and a phone (390 px).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from marketplace.access.models import AccessRequest, Permit
from marketplace.catalog.models import Dataset
from marketplace.db import session_scope, utcnow
from marketplace.identity import services as identity_services
from marketplace.workspace import checks
from marketplace.workspace.models import (
    WorkspaceJob,
    WorkspaceOutput,
    output_context,
    output_path,
)

pytestmark = pytest.mark.browser

TABLE = b"sex,age_band,n\nfemale,40-49,40\nmale,40-49,35\n"
SCRIPT = ("import pandas as pd\n"
          "data = pd.read_parquet('/data/1.parquet')\n"
          "data.groupby(['sex', 'age_band']).size().rename('n').to_csv('/output/table.csv')\n")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _world(app: Any, tmp: Path) -> int:
    """A holder with two checkers, a company with a permit and one output waiting for review."""
    keyring, data_dir = app.extensions["marketplace.keyring"], app.config["DATA_DIR"]
    with session_scope(app) as db:
        holder = identity_services.create_org(db, slug="herlev-browser", name="Herlev Hospital",
                                              kind="regional", country="DK", accredited=True)
        company = identity_services.create_org(db, slug="pulmo-browser", name="Pulmo ApS",
                                               kind="company", country="DK", accredited=True)
        db.flush()
        for sub, org, role in (("checker-one", holder, "output_checker"),
                               ("checker-two", holder, "output_checker"),
                               ("company-analyst", company, "company_member")):
            identity_services.add_user(db, sub=sub, email=f"{sub}@example.org", org=org,
                                       role=role, name=sub.replace("-", " ").title())
        dataset = Dataset(
            publisher_org_id=holder.id, status="published", title="KOL-forløb",
            description="Testdata", keywords=[], themes=[], health_categories=[],
            access_rights="NON_PUBLIC", legal_basis="EHDS", consent_model="opt_out",
            data_use={"permission": "GRU", "diseases": [], "modifiers": []}, spatial=[],
            k_min=5, subject_column="cpr", columns=[], search_text="kol",
            published_at=utcnow())
        db.add(dataset)
        db.flush()
        request = AccessRequest(
            company_org_id=company.id, submitted_by="test", title="KOL", description="Test",
            purpose="company_research", diseases=[], cohort={}, duration_days=90,
            status="permitted", pseudonymised=True)
        db.add(request)
        db.flush()
        permit = Permit(
            access_request_id=request.id, company_org_id=company.id, purpose="company_research",
            datasets=[{"dataset_id": dataset.id, "columns": ["sex"]}], cohort={}, k_min=5,
            pseudonymised=True, duties=[], policy_version="test",
            approved_at=utcnow() - timedelta(days=1), valid_until=utcnow() + timedelta(days=90))
        db.add(permit)
        db.flush()
        job = WorkspaceJob(
            permit_id=permit.id, company_org_id=company.id, name="Køn og alder", script=SCRIPT,
            script_sha256=hashlib.sha256(SCRIPT.encode()).hexdigest(), submitted_by="analyst",
            status="succeeded", progress=1.0, log="")
        db.add(job)
        db.flush()
        source = tmp / "table.csv"
        source.write_bytes(TABLE)
        found = checks.check_output(source, name="table.csv", rules=checks.OutputRules())
        output = WorkspaceOutput(
            job=job, permit_id=permit.id, name="table.csv", byte_size=len(TABLE),
            sha256=hashlib.sha256(TABLE).hexdigest(), media_type="text/csv",
            status="pending_review", checks=[c.to_json() for c in found],
            justification="Tabel 1 i artiklen: fordeling på køn og alder.",
            holder_org_ids=[holder.id])
        db.add(output)
        db.flush()
        keyring.write_encrypted(output_path(output.id, data_dir=data_dir), [TABLE],
                                context=output_context(output.id))
        return output.id


@pytest.fixture(scope="module")
def release_server(live_server: Any, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[Any, int]]:
    app = live_server.app
    yield live_server, _world(app, tmp_path_factory.mktemp("output"))


def _page(chromium: Any, viewport: dict[str, int]) -> Any:
    context = chromium.new_context(locale="da-DK", viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _fits(page: Any) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def _approve(page: Any, base: str, output_id: int, axe_violations: Any) -> None:
    page.goto(f"{base}/output-reviews")
    assert page.get_by_role("heading", level=1).inner_text() == "Resultater til kontrol"
    assert axe_violations(page) == []
    assert _fits(page)
    page.get_by_role("link", name="table.csv").click()
    page.wait_for_url(f"{base}/output-reviews/{output_id}")
    assert "read_parquet" in page.locator("pre.script").inner_text()
    assert "Tabel 1 i artiklen" in page.get_by_text("Tabel 1 i artiklen").inner_text()
    assert axe_violations(page) == []
    assert _fits(page)
    page.get_by_label("Godkend").check()
    page.get_by_role("button", name="Registrér vurdering").click()
    page.wait_for_url(f"{base}/output-reviews")
    assert page.locator(".flash.success").count() == 1


def test_two_checkers_release_and_the_company_downloads(release_server, chromium,
                                                        sign_in_browser, axe_violations):
    server, output_id = release_server
    base = server.url

    first = _page(chromium, DESKTOP)
    sign_in_browser(first, base, "checker-one", "/output-reviews")
    _approve(first, base, output_id, axe_violations)
    assert first.get_by_role("cell", name="1 / 2").count() == 1
    first.context.close()

    company = _page(chromium, PHONE)
    sign_in_browser(company, base, "company-analyst", f"/outputs/{output_id}")
    company.goto(f"{base}/outputs/{output_id}")
    assert company.get_by_text("Venter på kontrol").count() >= 1
    assert company.get_by_role("link", name="Hent resultatet").count() == 0
    assert axe_violations(company) == []
    assert _fits(company)

    second = _page(chromium, PHONE)
    sign_in_browser(second, base, "checker-two", "/output-reviews")
    _approve(second, base, output_id, axe_violations)
    assert "Resultatet er frigivet" in second.locator(".flash.success").inner_text()
    assert second.get_by_text("Ingen resultater venter på jeres kontrol.").count() == 1
    second.context.close()

    for viewport in (PHONE, DESKTOP):
        company.set_viewport_size(viewport)
        company.goto(f"{base}/outputs/{output_id}")
        assert company.get_by_text("Frigivet").count() >= 1
        assert axe_violations(company) == []
        assert _fits(company)
    with company.expect_download() as download:
        company.get_by_role("link", name="Hent resultatet").click()
    assert download.value.suggested_filename == "table.csv"
    assert Path(download.value.path()).read_bytes() == TABLE
    company.goto(f"{base}/outputs/{output_id}?lang=en")
    assert company.get_by_role("link", name="Download the output").count() == 1
    company.context.close()
