"""A company registers an opportunity, the secretariat recommends it, the steering group
decides at the gate; the board and the printable agenda show it (Chromium, 1280 and 390 px)."""
import re

import pytest

from marketplace.db import session_scope, utcnow
from marketplace.growth import cases, gates, opportunities
from marketplace.growth.schemas import (
    GateDecisionIn,
    OpportunityIn,
    PlanIn,
    ProcurementCaseIn,
    RecommendationIn,
)
from marketplace.growth.screening import load_model
from marketplace.identity import services as identity

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def growth_people(live_server):
    with session_scope(live_server.app) as session:
        cluster = identity.create_org(session, slug="chc-browser", name="Klyngen",
                                      kind="cluster")
        identity.create_org(session, slug="albertslund-browser", name="Albertslund Kommune",
                            kind="municipal")
        company = identity.create_org(session, slug="pulmo-browser", name="Pulmo Monitor",
                                      kind="company")
        for sub, org, role in (("gr-company", company, "company_member"),
                               ("gr-secretariat", cluster, "secretariat"),
                               ("gr-steering", cluster, "steering_group")):
            identity.add_user(session, sub=sub, email=f"{sub}@x.example", org=org, role=role,
                              name=sub)
    return live_server


def check_axe(page, axe_violations):
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert axe_violations(page) == [], width
    page.set_viewport_size({"width": 1280, "height": 900})


def sign_out(page):
    page.get_by_role("button", name="Log ud").click()
    page.wait_for_load_state()


def test_register_recommend_decide_board_agenda(growth_people, browser_page, sign_in_browser,
                                                axe_violations):
    page, url = browser_page, growth_people.url
    sign_in_browser(page, url, "gr-company", next_path="/opportunities/new")
    assert page.get_by_role("heading", level=1).inner_text() == "Registrér en vækstmulighed"
    check_axe(page, axe_violations)
    page.get_by_label("Titel").fill("Hjemmemonitorering af KOL")
    page.get_by_label("Beskrivelse").fill("Færre genindlæggelser af borgere med KOL.")
    page.get_by_label("Offentlig behovsejer").select_option("albertslund-browser")
    page.get_by_label("Pulmo Monitor").check()
    page.get_by_label("Telemedicin og fjernmonitorering").check()
    page.get_by_role("button", name="Registrér").click()
    page.wait_for_load_state()
    assert page.get_by_text("Muligheden er registreret som en boble.").is_visible()
    opportunity_path = re.sub(r"^https?://[^/]+", "", page.url)
    check_axe(page, axe_violations)
    sign_out(page)

    sign_in_browser(page, url, "gr-secretariat", next_path=opportunity_path)
    check_axe(page, axe_violations)
    page.get_by_label("Indstil til fase").select_option("kvalificering")
    page.get_by_label("Indstilling", exact=True).fill("Spring en fase over.")
    page.get_by_role("button", name="Send indstilling").click()
    page.wait_for_load_state()
    assert "kan ikke springes over" in page.locator("#errors").inner_text()
    check_axe(page, axe_violations)
    page.get_by_label("Indstil til fase").select_option("identifikation")
    page.locator("#score-treatment_errors").fill("4")
    page.locator("#score-need_volume").fill("5")
    page.locator("#reason-need_volume").fill("Alle 46 kommuner har borgere med KOL.")
    page.get_by_label("Indstilling", exact=True).fill("Stærkt behov i kommunerne.")
    page.get_by_role("button", name="Send indstilling").click()
    page.wait_for_load_state()
    assert page.get_by_text("Indstillingen er sendt til styregruppen.").is_visible()
    page.goto(f"{url}/clinical-projects/new")
    check_axe(page, axe_violations)
    sign_out(page)

    sign_in_browser(page, url, "gr-steering", next_path="/opportunities/agenda")
    assert "Stærkt behov i kommunerne." in page.content()
    check_axe(page, axe_violations)
    page.goto(url + opportunity_path)
    page.get_by_label("Beslutning", exact=True).select_option("go")
    page.get_by_label("Referat").fill("Godkendt til identifikation.")
    page.get_by_role("button", name="Registrér beslutning").click()
    page.wait_for_load_state()
    assert page.get_by_text("Beslutningen er registreret.").is_visible()
    assert page.locator(".gr-stage").inner_text() == "Identifikation"

    page.goto(f"{url}/opportunities")
    column = page.locator("section.gr-column", has=page.locator("#col-identifikation"))
    assert "Hjemmemonitorering af KOL" in column.inner_text()
    check_axe(page, axe_violations)
    page.goto(f"{url}/opportunities/agenda")
    assert page.get_by_text("Intet afventer en beslutning.").is_visible()
    page.goto(f"{url}/screening-model")
    check_axe(page, axe_violations)
    page.goto(f"{url}/opportunities/progress")
    assert page.locator("svg.chart").count() >= 3
    check_axe(page, axe_violations)


def test_buyer_completes_the_procurement_case(growth_people, browser_page, sign_in_browser,
                                              axe_violations):
    app = growth_people.app
    model = load_model(app.config["POLICIES_DIR"])
    with session_scope(app) as session:
        identity.add_user(session, sub="gr-buyer", email="b@x.example", role="holder_admin",
                          org=identity.require_org(session, slug="albertslund-browser"),
                          name="Indkøber")
        people = {sub: identity.staff_principal(identity.get_user_by_sub(session, sub=sub))
                  for sub in ("gr-secretariat", "gr-steering", "gr-buyer")}
        opportunity = opportunities.create_opportunity(
            session, actor=people["gr-secretariat"], now=utcnow(), data=OpportunityIn(
                title="Faldsensorer", need_owner="albertslund-browser",
                companies=["pulmo-browser"]))
        for stage in ("identifikation", "kvalificering", "koncept_og_plan", "eksekvering"):
            if stage == "eksekvering":
                gates.set_plan(session, actor=people["gr-secretariat"],
                               opportunity_id=opportunity.id, now=utcnow(),
                               data=PlanIn.model_validate({"kpis": [
                                   {"dimension": "prevented_admissions", "baseline": 10,
                                    "target": 5}], "tracks": ["procurement"]}))
            gates.recommend(session, actor=people["gr-secretariat"],
                            opportunity_id=opportunity.id, model=model, now=utcnow(),
                            data=RecommendationIn.model_validate({
                                "to_stage": stage, "must_meet": {
                                    "public_need_owner": True, "lawful_purpose": True,
                                    "regulatory_path": True, "data_protection": True},
                                "text": "Videre"}))
            gates.decide(session, actor=people["gr-steering"], opportunity_id=opportunity.id,
                         model=model, now=utcnow(), data=GateDecisionIn.model_validate({
                             "to_stage": stage, "decision": "go", "minutes": "Ja"}))
        case = cases.open_case(session, actor=people["gr-buyer"], now=utcnow(),
                               opportunity_id=opportunity.id,
                               data=ProcurementCaseIn(yearly_cost_dkk=30_000))
        case_id = case.id

    page, url = browser_page, growth_people.url
    sign_in_browser(page, url, "gr-buyer", next_path=f"/procurement-cases/{case_id}")
    assert "Direkte indkøb" in page.locator("#route").inner_text()
    check_axe(page, axe_violations)
    step = page.locator("#step-investment")
    step.get_by_label("Årlig pris (kr.)").fill("90000")
    step.get_by_label("Volumen (forløb om året)").fill("200")
    step.get_by_role("button", name="Gem og markér som færdigt").click()
    page.wait_for_load_state()
    assert page.get_by_text("Trinnet er gemt.").is_visible()
    assert "Udbud" in page.locator("#route").inner_text()
    assert page.get_by_role("link", name="Hent som PDF").count() == 1
