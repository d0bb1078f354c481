"""A company works in its workspace in Debian's Chromium: reads the column dictionary, fetches
dummy data, submits a script and sees the job's log and its outputs' checks; the holder's two
output checkers release the output and the company downloads it; axe-clean, 390 px."""
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketplace.access.models import Permit
from marketplace.workspace import demo

pytestmark = pytest.mark.browser

SCRIPT = """import glob
import pandas as pd
[path] = glob.glob('/data/*.parquet')
frame = pd.read_parquet(path)
print('rows', len(frame))
frame.groupby('sex', observed=True).size().reset_index(name='n').to_csv('/output/sex.csv',
                                                                         index=False)
"""


def _workspace_permit(server) -> int:
    factory = server.app.extensions["marketplace.sessionmaker"]
    with factory() as session:
        permit_id = session.scalar(sa.select(Permit.id).where(Permit.pseudonymised.is_(True))
                                   .order_by(Permit.id.desc()))
    assert permit_id is not None, f"the demo has no permit from {demo.__name__}"
    return permit_id


def test_company_runs_a_script_in_its_workspace(demo_live_server, browser_page, chromium,
                                                sign_in_browser, axe_violations) -> None:
    page, base = browser_page, demo_live_server.url
    permit_id = _workspace_permit(demo_live_server)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_browser(page, base, "company-pulmo", next_path=f"/workspace/{permit_id}")
    page.goto(f"{base}/workspace/{permit_id}")
    assert "Sikkert analysemiljø" in page.get_by_role("heading", level=1).inner_text()
    assert page.locator("code", has_text=re.compile(r"^/data/\d+\.parquet$")).count() == 1
    assert axe_violations(page) == []
    # Nothing sticks out sideways at 390 px: wide tables scroll inside their own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Hent dummydata .* som CSV")).click()
    assert "synthetic" in download.value.suggested_filename

    page.get_by_label("Navn på jobbet").fill("Fordeling på køn")
    page.get_by_label("… eller skriv scriptet her").fill(SCRIPT)
    page.get_by_role("button", name="Kør scriptet").click()
    page.wait_for_url(re.compile(r".*/workspace/\d+#job-\d+$"))
    # workspace.js polls the job and reloads the page when it has ended.
    job = page.locator("article.workspace-job[data-finished='true']").first
    job.wait_for(timeout=90_000)
    assert job.locator(".job-status").first.inner_text() == "Færdig", job.inner_text()
    assert job.get_by_role("table").first.locator("caption").inner_text().startswith("sex.csv")
    assert "Afventer kontrol" in job.inner_text()
    job.locator("summary", has_text="Log").click()
    assert "rows" in job.locator("pre.job-log").inner_text()
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto(f"{base}/workspace/{permit_id}?lang=en")
    assert "Secure processing environment" in page.get_by_role("heading", level=1).inner_text()

    # Two different output checkers of the holder release it; then the company downloads it.
    output_id = None
    for checker in ("checker-herlev", "checker-herlev-2"):
        context = chromium.new_context(locale="da-DK", viewport={"width": 1280, "height": 900})
        review = context.new_page()
        review.set_default_timeout(15_000)
        sign_in_browser(review, base, checker, next_path="/output-reviews")
        review.goto(f"{base}/output-reviews")
        assert axe_violations(review) == []
        review.get_by_role("link", name="sex.csv").first.click()
        review.wait_for_url(re.compile(r".*/output-reviews/\d+$"))
        output_id = int(review.url.rsplit("/", 1)[1])
        assert "read_parquet" in review.locator("pre.script").inner_text()
        assert axe_violations(review) == []
        review.get_by_label("Godkend").check()
        review.get_by_role("button", name="Registrér vurdering").click()
        review.wait_for_url(f"{base}/output-reviews")
        context.close()
    page.goto(f"{base}/outputs/{output_id}?lang=da")
    assert page.get_by_text("Frigivet").count() >= 1, page.locator("main").inner_text()
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    with page.expect_download() as released:
        page.get_by_role("link", name="Hent resultatet").click()
    assert released.value.suggested_filename == "sex.csv"
    assert b"sex,n" in Path(released.value.path()).read_bytes()
