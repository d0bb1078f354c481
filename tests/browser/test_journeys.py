"""First-time users' journeys in Debian's Chromium, on a desktop (1280 px) and a phone (390 px):
find a dataset and apply from it, review and resubmit, grow a column dictionary, upload with a
double click, and correct a test course's outcome. Every page passes axe and none scrolls
sideways."""
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.browser

WIDTHS = [1280, 390]
REGISTER = "Landspatientregisteret"


def _fits(page: Any) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


WIDER_THAN_THE_PAGE = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .slice(0, 5).map(e => e.tagName + "#" + e.id + "." + e.className);
}"""


def _check(page: Any, axe_violations: Any) -> None:
    """The page passes axe and has no sideways scrolling at the current width."""
    assert axe_violations(page) == []
    assert _fits(page), (page.url, page.evaluate(WIDER_THAN_THE_PAGE))


def _sign_out(page: Any) -> None:
    page.get_by_role("button", name="Log ud").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("width", WIDTHS)
def test_search_find_a_dataset_and_apply_from_it(demo_live_server, browser_page,
                                                 sign_in_browser, axe_violations, width):
    page, base = browser_page, demo_live_server.url
    page.set_viewport_size({"width": width, "height": 900})
    sign_in_browser(page, base, "company-pulmo", next_path="/catalog?q=landspatientregistret")
    assert page.get_by_text("Ingen datasæt matcher søgningen.").is_visible()
    _check(page, axe_violations)
    page.get_by_role("link", name=re.compile("^Mente du »landspatientregisteret«")).click()
    page.wait_for_url(re.compile(r".*q=landspatientregisteret$"))
    page.get_by_label(re.compile(r"^Offentlig \(")).check()
    page.get_by_role("button", name="Anvend filtre").click()
    page.wait_for_url(re.compile(r".*access_rights=PUBLIC"))
    page.get_by_role("link", name="Ryd alle filtre").click()
    page.wait_for_url(re.compile(r".*/catalog\?q=landspatientregisteret$"))
    page.get_by_label("Sortér efter").select_option("title")
    page.get_by_role("button", name="Sortér", exact=True).click()
    page.wait_for_url(re.compile(r".*sort=title"))
    _check(page, axe_violations)

    page.get_by_role("link", name=re.compile(REGISTER)).first.click()
    page.get_by_role("link", name="Ansøg om adgang").click()
    page.wait_for_url(re.compile(r".*/requests/new\?dataset=\d+$"))
    dataset = page.locator("fieldset.dataset").first
    assert REGISTER in dataset.locator("legend").inner_text()
    assert dataset.get_by_label("Ansøg om dette datasæt").is_checked()
    assert "Betingelser for brug" in dataset.inner_text()
    assert page.locator("#test_course option").count() >= 1  # a pick-list, not a number
    _check(page, axe_violations)


@pytest.mark.parametrize("width", WIDTHS)
def test_reject_without_comment_then_amend_and_resubmit(demo_live_server, browser_page,
                                                        sign_in_browser, axe_violations, width):
    page, base = browser_page, demo_live_server.url
    page.set_viewport_size({"width": width, "height": 900})
    title = f"Indlæggelsesrisiko {width}"
    sign_in_browser(page, base, "company-pulmo", next_path="/requests/new")
    page.get_by_label("Projektets titel").fill(title)
    page.get_by_label("Beskrivelse af projektet").fill("Vi træner en model for indlæggelser.")
    page.get_by_label("Formål").select_option("company_research")
    dataset = page.locator("fieldset.dataset", has_text=REGISTER)
    dataset.get_by_label("Ansøg om dette datasæt").check()
    dataset.locator("input[value='sex']").check()
    page.get_by_label("Varighed i dage").fill("365")
    page.get_by_role("button", name="Send ansøgningen").click()
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    request_path = re.sub(r"^https?://[^/]+", "", page.url)
    _sign_out(page)

    sign_in_browser(page, base, "admin-sds", next_path=request_path)
    page.get_by_label("Afvis", exact=True).check()
    page.get_by_role("button", name="Registrér vurdering").click()
    page.wait_for_load_state()
    # Still on the case, with the message beside the comment field.
    assert page.get_by_role("heading", level=1).inner_text() == title
    assert page.locator("#comment-error").is_visible()
    assert page.get_by_label("Afvis", exact=True).is_checked()
    _check(page, axe_violations)
    page.get_by_label(re.compile("^Kommentar til ansøgeren")).fill("Formålet er for bredt.")
    page.get_by_role("button", name="Registrér vurdering").click()
    page.wait_for_load_state()
    assert "Afvist af dataholder" in page.content()
    _sign_out(page)

    sign_in_browser(page, base, "company-pulmo", next_path=request_path)
    _check(page, axe_violations)
    page.get_by_role("link", name="Ret og send igen").click()
    page.wait_for_url(re.compile(r".*/requests/new\?from=\d+$"))
    assert page.get_by_label("Projektets titel").input_value() == title
    _check(page, axe_violations)
    page.get_by_label("Projektets titel").fill(title + " (rettet)")
    page.get_by_role("button", name="Send ansøgningen").click()
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    assert page.url != base + request_path
    assert "rettet udgave af" in page.content()
    _check(page, axe_violations)


@pytest.mark.parametrize("width", WIDTHS)
def test_holder_grows_the_column_dictionary_and_uploads_once(demo_live_server, browser_page,
                                                             sign_in_browser, axe_violations,
                                                             width):
    page, base = browser_page, demo_live_server.url
    page.set_viewport_size({"width": width, "height": 900})
    sign_in_browser(page, base, "admin-albertslund", next_path="/catalog/new")
    _check(page, axe_violations)
    rows = page.locator(".column-row")
    before = rows.count()
    page.get_by_role("button", name="Tilføj en kolonne").click()
    assert rows.count() == before + 1
    new_name = page.get_by_label(f"Navn række {before + 1}")
    assert new_name.evaluate("element => element === document.activeElement")
    new_name.fill("steps")
    page.get_by_label(f"Type række {before + 1}").select_option("integer")
    page.get_by_role("button", name="Gem").click()  # no title: errors beside the fields
    page.wait_for_load_state()
    assert page.locator("#title-error").is_visible()
    assert page.get_by_label("Navn række 1").input_value() == "steps"
    _check(page, axe_violations)
    page.get_by_label("Titel (dansk)").fill(f"Skridt i hjemmeplejen {width}")
    page.get_by_label("Beskrivelse (dansk)").fill("Daglige skridt.")
    page.get_by_label("Pleje- og omsorgsdata").check()
    page.get_by_role("button", name="Gem").click()
    page.wait_for_url("**/upload")
    _check(page, axe_violations)
    with page.expect_download() as download:
        page.get_by_role("link", name="Hent en CSV-skabelon med kolonnerne").click()
    assert Path(download.value.path()).read_text(encoding="utf-8") == "steps\n"
    page.set_input_files("#file", files=[{"name": "steps.csv", "mimeType": "text/csv",
                                          "buffer": b"steps\n1200\n8000\n"}])
    page.get_by_role("button", name="Upload og valider").dblclick()
    page.wait_for_url("**/quality?version=1")
    page.get_by_role("link", name="Tilbage til datasættet").click()
    versions = page.locator("table", has=page.get_by_text("Dataversioner")).locator("tbody tr")
    assert versions.count() == 1
    _check(page, axe_violations)


@pytest.mark.parametrize("width", WIDTHS)
def test_host_corrects_an_outcome_and_the_company_cannot_evaluate(
        demo_live_server, browser_page, sign_in_browser, axe_violations, width):
    page, base = browser_page, demo_live_server.url
    page.set_viewport_size({"width": width, "height": 900})
    sign_in_browser(page, base, "company-carebridge", next_path="/test-courses")
    page.get_by_role("link", name="Sepsis early warning on Herlev's data").click()
    finish = page.get_by_role("button", name="Markér som afsluttet")
    if finish.count():  # the first run finishes the course; evaluating it is the host's call
        finish.click()
        page.wait_for_load_state()
    assert page.locator("#course-status").inner_text() == "Afsluttet"
    assert page.get_by_role("button", name="Markér som evalueret").count() == 0
    _check(page, axe_violations)
    _sign_out(page)

    sign_in_browser(page, base, "host-iderige", next_path="/test-courses?status=evaluated")
    page.get_by_role("link", name="PulmoHome hos KOL-patienter på Rigshospitalet").click()
    correction = page.locator("details", has_text="Ret resultatet for Forebyggede indlæggelser")
    correction.locator("summary").click()
    correction.get_by_label("Efter (resultat)").fill("28" if width == 1280 else "29")
    correction.get_by_label(re.compile("^Begrundelse for rettelsen")).fill(
        f"Genberegnet ({width} px)")
    correction.get_by_role("button", name="Gem rettelsen").click()
    page.wait_for_load_state()
    assert page.get_by_text("Gemt.").is_visible()
    assert f"Genberegnet ({width} px)" in page.locator(".tb-corrections").inner_text()
    _check(page, axe_violations)


def _ids(app: Any) -> tuple[int, int]:
    """Pulmo Monitor's saved solution and the health-data environment it has no course in."""
    import sqlalchemy as sa

    from marketplace.db import session_scope
    from marketplace.testbeds.models import SolutionProfile, TestEnvironment

    with session_scope(app) as session:
        solution = session.scalars(sa.select(SolutionProfile.id).where(
            SolutionProfile.name.startswith("PulmoHome"))).one()
        environment = session.scalars(sa.select(TestEnvironment.id).where(
            TestEnvironment.slug == "sundhedsdata")).one()
    return solution, environment


@pytest.mark.parametrize("width", WIDTHS)
def test_a_company_withdraws_its_proposal(demo_live_server, browser_page, sign_in_browser,
                                          axe_violations, width):
    page, base = browser_page, demo_live_server.url
    page.set_viewport_size({"width": width, "height": 900})
    solution, environment = _ids(demo_live_server.app)
    sign_in_browser(page, base, "company-pulmo", next_path=quote(
        f"/test-courses/new?environment={environment}&solution={solution}"))
    page.get_by_label("Titel").fill(f"PulmoHome på Herlevs data ({width} px)")
    page.get_by_role("button", name="Send forslag til værten").click()
    page.wait_for_load_state()
    assert page.locator("#course-status").inner_text() == "Foreslået"
    page.get_by_role("button", name="Træk forslaget tilbage").click()
    page.wait_for_load_state()
    assert page.locator("#course-status").inner_text() == "Trukket tilbage"
    assert page.get_by_role("button", name="Acceptér forslaget").count() == 0
    _check(page, axe_violations)
