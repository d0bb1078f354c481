"""Route choice and the business case of a procurement case (pure)."""
import pytest

from marketplace.growth import procurement


@pytest.mark.parametrize("buyer, cost, tracks, existing, route", [
    ("municipal", 49_999, ["procurement"], None, "direct_purchase"),
    ("municipal", 50_000, ["procurement"], None, "tender"),
    ("regional", 10_000, ["procurement"], None, "tender"),
    ("regional", 900_000, ["procurement", "partnership"], None, "opi"),
    ("regional", 900_000, ["procurement"], False, "innovation_partnership"),
    ("regional", 900_000, ["procurement"], True, "tender"),
])
def test_route_choice(buyer, cost, tracks, existing, route) -> None:
    assert procurement.choose_route(buyer_kind=buyer, yearly_cost_dkk=cost, tracks=tracks,
                                    existing_solutions=existing) == route


def test_business_case_is_effect_times_volume_times_unit_cost() -> None:
    case = procurement.business_case({"yearly_cost_dkk": 40_000, "one_off_cost_dkk": 10_000,
                                      "volume": 200, "unit_saving_dkk": 3_000,
                                      "effect_percent": 25})
    assert case.yearly_benefit_dkk == 150_000
    assert case.tco_dkk == 210_000
    assert case.net_dkk == 150_000 * 5 - 210_000


def test_steps_are_prefilled_from_evidence_with_links_back() -> None:
    facts = procurement.CaseFacts(
        title="Hjemmemonitorering", description="KOL-patienter genindlægges",
        need_owner="Albertslund Kommune", buyer_kind="municipal", companies=["Pulmo"],
        kpis={"prevented_admissions": {"baseline": 30, "target": 20, "unit": "%"}},
        tracks=["procurement"], yearly_cost_dkk=45_000,
        evidence=[procurement.EvidenceItem("test_course", 7, "Test i Albertslund", {
            "need": "Færre genindlæggelser", "market": "Tre leverandører",
            "outcomes": [{"dimension": "prevented_admissions", "metric": "genindlæggelser",
                          "baseline": 40.0, "result": 30.0, "unit": "%"}]})])
    steps = {step["key"]: step for step in procurement.prefill_steps(facts)}
    assert list(steps) == list(procurement.STEP_KEYS)
    assert steps["need"]["evidence"] == [{"source": "test_course", "id": 7}]
    assert "Færre genindlæggelser" in steps["need"]["fields"]["need"]
    assert "Forebyggede indlæggelser: genindlæggelser" in steps["value"]["fields"]["effects"]
    assert steps["value"]["status"] == "prefilled"
    assert steps["investment"]["fields"]["effect_percent"] == 25
    assert steps["procedure"]["fields"]["route"] == "direct_purchase"
