"""The Cedar access decision, as a table of (application, dataset, outcome, rule ids)."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import cedarpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.access import decisions
from marketplace.access.decisions import (
    ApplicationFacts,
    DatasetRequest,
    PolicyError,
    PurposeFacts,
    RequesterFacts,
    decide,
    load_policy_bundle,
)

TODAY = date(2026, 11, 22)
TAXONOMY = {p["code"]: p for p in json.loads(
    (decisions.POLICY_DIR / "purposes.json").read_text(encoding="utf-8"))["purposes"]}

COLUMNS = [
    {"name": "cpr", "role": "direct_identifier", "identifier_kind": "cpr"},
    {"name": "name", "role": "direct_identifier", "identifier_kind": "name"},
    {"name": "age", "role": "quasi_identifier"},
    {"name": "sex", "role": "quasi_identifier"},
    {"name": "postcode", "role": "quasi_identifier"},
    {"name": "diagnosis", "role": "sensitive"},
    {"name": "notes", "role": "attribute", "shareable": False},
]

COMPANY = RequesterFacts("pulmo-monitor", "company", "DK", True)
FOREIGN = RequesterFacts("carebridge", "company", "DE", True)
UNACCREDITED = RequesterFacts("lumen-care", "company", "DK", False)
OUTSIDE_EEA = RequesterFacts("boston-health", "company", "US", True)
REGION = RequesterFacts("region-hovedstaden", "regional", "DK", True)


@pytest.fixture(scope="module")
def bundle() -> decisions.PolicyBundle:
    return load_policy_bundle()


def purpose(code: str) -> PurposeFacts:
    return decisions.purpose_facts(code, SimpleNamespace(**TAXONOMY[code]) if code in TAXONOMY
                                   else None)


def dataset(**overrides) -> decisions.DatasetFacts:
    fields = {"dataset_id": 1, "status": "published",
              "access_rights": "RESTRICTED", "data_use": {"permission": "GRU"}, "k_min": 5,
              "columns": COLUMNS, "subject_column": "cpr", "as_of": TODAY}
    fields.update(overrides)
    return decisions.dataset_facts(**fields)


def use(permission: str, *modifiers: str, diseases: tuple[str, ...] = ()) -> dict:
    return {"permission": permission, "modifiers": list(modifiers), "diseases": list(diseases)}


def app(code: str = "public_research", **overrides) -> ApplicationFacts:
    base = ApplicationFacts(purpose=purpose(code), duration_days=365)
    return replace(base, **overrides)


JUSTIFIED = {"pseudonymised": True, "pseudonymisation_justified": True}
POA = PurposeFacts("ancestry_research", duo="POA")

# (case id, requester, application, dataset, columns, cohort size, outcome, rule ids)
CASES = [
    # --- permitted automatically ---
    ("gru-any-research", COMPANY, app(), dataset(), ("age", "sex"), 100,
     "permit", {"base.permit"}),
    ("nres-commercial", COMPANY, app("company_research"), dataset(data_use=use("NRES")),
     ("age", "diagnosis"), 100, "permit", {"base.permit"}),
    ("hmb-admits-hmb", COMPANY, app(), dataset(data_use=use("HMB")), ("age",), 100,
     "permit", {"base.permit"}),
    ("hmb-admits-ds", COMPANY, app(diseases=("DJ44",)), dataset(data_use=use("HMB")),
     ("age",), 100, "permit", {"base.permit"}),
    ("ds-sub-disease-matches-parent", COMPANY, app(diseases=("DJ449",)),
     dataset(data_use=use("DS", diseases=("DJ4",))), ("age",), 100, "permit", {"base.permit"}),
    ("ds-same-disease", COMPANY, app(diseases=("J44",)),
     dataset(data_use=use("DS", diseases=("DJ44",))), ("age",), 100, "permit", {"base.permit"}),
    ("ds-every-disease-covered", COMPANY, app(diseases=("DE119", "DJ441")),
     dataset(data_use=use("DS", diseases=("DJ44", "DE11"))), ("age",), 100,
     "permit", {"base.permit"}),
    ("poa-admits-poa", COMPANY, app(purpose=POA), dataset(data_use=use("POA")), ("age",), 100,
     "permit", {"base.permit"}),
    ("public-body-statistics", REGION, app("official_statistics"), dataset(), ("age",), 100,
     "permit", {"base.permit"}),
    ("npu-admits-public-body", REGION, app(), dataset(data_use=use("GRU", "NPU")), ("age",), 100,
     "permit", {"base.permit"}),
    ("gs-eu-admits-germany", FOREIGN, app(), dataset(data_use=use("GRU", "GS(EU)")), ("age",),
     100, "permit", {"base.permit"}),
    ("ts-within-limit", COMPANY, app(duration_days=365), dataset(data_use=use("GRU", "TS:12")),
     ("age",), 100, "permit", {"base.permit"}),
    ("is-named-institution", COMPANY, app(), dataset(data_use=use("GRU", "IS:pulmo-monitor")),
     ("age",), 100, "permit", {"base.permit"}),
    ("irb-with-evidence", COMPANY, app(ethics_approval=True), dataset(data_use=use("GRU", "IRB")),
     ("age",), 100, "permit", {"base.permit"}),
    ("pseudonym-justified", COMPANY, app(**JUSTIFIED), dataset(), ("cpr", "age"), 100,
     "permit", {"base.permit"}),
    ("purpose-offered", COMPANY, app(), dataset(purposes=("public_research",)), ("age",), 100,
     "permit", {"base.permit"}),
    ("test-environment-named", COMPANY, app("test_environment", for_test_environment=True),
     dataset(), ("age",), 100, "permit", {"base.permit"}),
    ("cohort-exactly-k", COMPANY, app(), dataset(k_min=10), ("age",), 10,
     "permit", {"base.permit"}),
    ("three-years-exactly", COMPANY, app(duration_days=1095), dataset(), ("age",), 100,
     "permit", {"base.permit"}),
    # --- prohibited uses (EHDS Art. 54) ---
    *[(f"prohibited-{code}", COMPANY, app(code), dataset(), ("age",), 100, "deny",
       {f"prohibited.{code}"}) for code in (
        "detrimental_decisions", "insurance_credit_employment", "advertising_marketing",
        "harmful_products", "ethics_conflict", "reidentification")],
    ("prohibited-new-code", COMPANY,
     app(purpose=PurposeFacts("profiling", prohibited=True, commercial=True)), dataset(),
     ("age",), 100, "deny", {"prohibited.other"}),
    # --- purpose and requester ---
    ("purpose-unknown", COMPANY, app(purpose=PurposeFacts("made_up", known=False)), dataset(),
     ("age",), 100, "deny", {"purpose.unknown"}),
    ("statistics-not-for-companies", COMPANY, app("official_statistics"), dataset(), ("age",),
     100, "deny", {"purpose.public_bodies_only"}),
    ("public-health-not-for-companies", COMPANY, app("public_health"), dataset(), ("age",), 100,
     "deny", {"purpose.public_bodies_only"}),
    ("purpose-not-offered", COMPANY, app("company_research"),
     dataset(purposes=("public_research",)), ("age",), 100, "deny", {"purpose.not_offered"}),
    ("test-environment-missing", COMPANY, app("test_environment"), dataset(), ("age",), 100,
     "deny", {"purpose.test_environment_missing"}),
    ("not-accredited", UNACCREDITED, app(), dataset(), ("age",), 100, "deny",
     {"requester.not_accredited"}),
    ("dataset-draft", COMPANY, app(), dataset(status="draft"), ("age",), 100, "deny",
     {"dataset.not_published"}),
    # --- DUO primary permissions ---
    ("hmb-rejects-gru-purpose", COMPANY, app("education"), dataset(data_use=use("HMB")),
     ("age",), 100, "deny", {"duo.hmb_scope"}),
    ("hmb-rejects-poa", COMPANY, app(purpose=POA), dataset(data_use=use("HMB")), ("age",), 100,
     "deny", {"duo.hmb_scope"}),
    ("ds-needs-diseases", COMPANY, app(), dataset(data_use=use("DS", diseases=("DJ44",))),
     ("age",), 100, "deny", {"duo.ds_requires_disease"}),
    ("ds-parent-does-not-match-child", COMPANY, app(diseases=("DJ44",)),
     dataset(data_use=use("DS", diseases=("DJ449",))), ("age",), 100, "deny",
     {"duo.ds_disease_outside"}),
    ("ds-cancer-vs-lung-cancer", COMPANY, app(diseases=("DC",)),
     dataset(data_use=use("DS", diseases=("DC34",))), ("age",), 100, "deny",
     {"duo.ds_disease_outside"}),
    ("ds-one-disease-outside", COMPANY, app(diseases=("DJ44", "DE11")),
     dataset(data_use=use("DS", diseases=("DJ44",))), ("age",), 100, "deny",
     {"duo.ds_disease_outside"}),
    ("poa-only", COMPANY, app(), dataset(data_use=use("POA")), ("age",), 100, "deny",
     {"duo.poa_only"}),
    ("npoa", COMPANY, app(purpose=POA), dataset(data_use=use("GRU", "NPOA")), ("age",), 100,
     "deny", {"duo.npoa"}),
    # --- DUO modifiers ---
    ("ncu-commercial", COMPANY, app("company_research"), dataset(data_use=use("GRU", "NCU")),
     ("age",), 100, "deny", {"duo.ncu"}),
    ("npu-for-profit", COMPANY, app(), dataset(data_use=use("GRU", "NPU")), ("age",), 100,
     "deny", {"duo.npu"}),
    ("npuncu-for-profit-non-commercial", COMPANY, app(), dataset(data_use=use("GRU", "NPUNCU")),
     ("age",), 100, "deny", {"duo.npu"}),
    ("npuncu-commercial", COMPANY, app("company_research"),
     dataset(data_use=use("GRU", "NPUNCU")), ("age",), 100, "deny", {"duo.ncu", "duo.npu"}),
    ("gs-denmark-only", FOREIGN, app(), dataset(data_use=use("GRU", "GS")), ("age",), 100,
     "deny", {"duo.gs"}),
    ("gs-nordic", FOREIGN, app(), dataset(data_use=use("GRU", "GS(NORDIC)")), ("age",), 100,
     "deny", {"duo.gs"}),
    ("ts-too-long", COMPANY, app(duration_days=365), dataset(data_use=use("GRU", "TS:6")),
     ("age",), 100, "deny", {"duo.ts"}),
    ("is-other-institution", COMPANY, app(), dataset(data_use=use("GRU", "IS:rigshospitalet")),
     ("age",), 100, "deny", {"duo.is"}),
    ("irb-without-evidence", COMPANY, app(), dataset(data_use=use("GRU", "IRB")), ("age",), 100,
     "deny", {"duo.irb_evidence"}),
    # --- safe data ---
    ("unshareable-column", COMPANY, app(), dataset(), ("age", "notes"), 100, "deny",
     {"data.unshareable_column"}),
    ("direct-identifier", COMPANY, app(), dataset(), ("age", "name"), 100, "deny",
     {"data.direct_identifier", "data.unshareable_column"}),
    ("subject-column-anonymised", COMPANY, app(), dataset(), ("cpr", "age"), 100, "deny",
     {"data.subject_needs_pseudonym"}),
    ("pseudonym-unjustified", COMPANY, app(pseudonymised=True), dataset(), ("cpr", "age"), 100,
     "deny", {"data.pseudonymised_unjustified"}),
    ("pseudonym-for-teaching", COMPANY, app("education", **JUSTIFIED), dataset(), ("age",), 100,
     "deny", {"data.pseudonymised_purpose"}),
    ("cohort-below-k", COMPANY, app(), dataset(k_min=5), ("age",), 4, "deny",
     {"cohort.below_k_min"}),
    ("cohort-unknown", COMPANY, app(), dataset(), ("age",), None, "deny",
     {"cohort.size_unknown"}),
    ("deny-wins-over-review", COMPANY, app("company_research"),
     dataset(access_rights="NON_PUBLIC"), ("age",), 2, "deny", {"cohort.below_k_min"}),
    # --- sent to the data holders ---
    ("commercial-on-sensitive", COMPANY, app("company_research"),
     dataset(access_rights="NON_PUBLIC"), ("age",), 100, "review",
     {"review.commercial_sensitive"}),
    ("pseudonymised-commercial", COMPANY, app("company_research", **JUSTIFIED), dataset(),
     ("cpr", "age"), 100, "review", {"review.pseudonymised_commercial"}),
    ("outside-eea", OUTSIDE_EEA, app(), dataset(), ("age",), 100, "review",
     {"review.outside_eea"}),
    ("longer-than-three-years", COMPANY, app(duration_days=1096), dataset(), ("age",), 100,
     "review", {"review.long_duration"}),
    ("named-users", COMPANY, app(), dataset(data_use=use("GRU", "US")), ("age",), 100,
     "review", {"review.named_users_or_projects"}),
    ("institutions-unnamed", COMPANY, app(), dataset(data_use=use("GRU", "IS")), ("age",), 100,
     "review", {"review.named_users_or_projects"}),
    ("time-limit-unstated", COMPANY, app(), dataset(data_use=use("GRU", "TS")), ("age",), 100,
     "review", {"review.time_limit_unstated"}),
    ("collaboration", COMPANY, app(), dataset(data_use=use("GRU", "COL")), ("age",), 100,
     "review", {"review.collaboration"}),
]


@pytest.mark.parametrize(
    ("requester", "application", "facts", "columns", "cohort", "outcome", "rules"),
    [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_decision_table(bundle, requester, application, facts, columns, cohort, outcome, rules):
    decision = decide(bundle, requester=requester, application=application,
                      requests=[DatasetRequest(facts, columns, cohort)])
    assert decision.outcome == outcome
    assert decision.rule_ids == rules
    assert decision.policy_version == bundle.version
    assert all(reason.message and reason.message_da for reason in decision.reasons)


def test_table_covers_every_rule(bundle):
    covered = set().union(*(case[-1] for case in CASES))
    assert {rule.id for rule in bundle.rules} <= covered
    assert len(CASES) >= 40


def test_every_prohibited_purpose_of_the_taxonomy_is_denied(bundle):
    for code, entry in TAXONOMY.items():
        if entry["prohibited"]:
            decision = decide(bundle, requester=REGION, application=app(code),
                              requests=[DatasetRequest(dataset(), ("age",), 100)])
            assert decision.outcome == "deny"
            assert any(rule.startswith("prohibited.") for rule in decision.rule_ids), code


def test_one_denied_dataset_denies_the_application_and_names_it(bundle):
    decision = decide(bundle, requester=COMPANY, application=app(), requests=[
        DatasetRequest(dataset(dataset_id=1), ("age",), 100),
        DatasetRequest(dataset(dataset_id=2, data_use=use("GRU", "NPU")), ("age",), 100)])
    assert decision.outcome == "deny"
    assert [(r.rule, r.datasets) for r in decision.reasons] == [("duo.npu", (2,))]


def test_review_lists_the_datasets_that_need_it(bundle):
    decision = decide(bundle, requester=COMPANY, application=app("company_research"), requests=[
        DatasetRequest(dataset(dataset_id=1), ("age",), 100),
        DatasetRequest(dataset(dataset_id=7, access_rights="NON_PUBLIC"), ("age",), 100)])
    assert decision.outcome == "review"
    assert [(r.rule, r.datasets) for r in decision.reasons] == [
        ("review.commercial_sensitive", (7,))]


def test_no_datasets_is_a_deny(bundle):
    decision = decide(bundle, requester=COMPANY, application=app(), requests=[])
    assert (decision.outcome, decision.rule_ids) == ("deny", {"engine.no_datasets"})


def test_decision_serialises_reasons_in_both_languages(bundle):
    decision = decide(bundle, requester=UNACCREDITED, application=app(),
                      requests=[DatasetRequest(dataset(), ("age",), 100)])
    body = decision.to_json()
    assert body["outcome"] == "deny"
    assert body["policy_version"] == bundle.version and len(bundle.version) == 64
    [reason] = body["reasons"]
    assert reason["rule"] == "requester.not_accredited"
    assert "accredited" in reason["message"] and "akkrediteret" in reason["message_da"]
    assert reason["datasets"] == [1]


def test_every_fact_the_engine_builds_conforms_to_the_schema(bundle):
    cases = [(case[1], case[2], [DatasetRequest(case[3], case[4], case[5])]) for case in CASES]
    requests, entities = decisions.cedar_batch(cases)
    results = cedarpy.is_authorized_batch(requests, bundle.policy_set, entities,
                                          schema=bundle.schema)
    assert [r.diagnostics.errors for r in results] == [[] for _ in results]
    assert all(r.decision != cedarpy.Decision.NoDecision for r in results)


@pytest.mark.parametrize(("application", "modifier", "cohort_size"), [
    ({}, "NCU", "many"), ({"duration_days": "long"}, "NCU", 100),
    ({"ethics_approval": "yes"}, "IRB", 100), ({"duration_days": 2**70}, "NCU", 100)])
def test_a_fact_of_the_wrong_shape_is_a_deny(bundle, application, modifier, cohort_size):
    decision = decide(bundle, requester=COMPANY, application=app(**application), requests=[
        DatasetRequest(dataset(data_use=use("GRU", modifier)), ("age",), cohort_size)])
    assert decision.outcome == "deny"
    assert decision.rule_ids == {"engine.error"}


def test_hostile_text_in_facts_stays_data(bundle):
    # Column names and purpose codes come from applicants; they are JSON-escaped, never code.
    hostile = '"}],"cohort_size":99999,"x":[{"'
    decision = decide(bundle, requester=COMPANY, application=app(purpose=PurposeFacts(
        hostile, known=False, duo=None)), requests=[DatasetRequest(dataset(), (hostile,), 100)])
    assert decision.outcome == "deny"
    assert decision.rule_ids == {"purpose.unknown", "data.unshareable_column"}


def test_decide_many_matches_one_by_one(bundle):
    cases = [(case[1], case[2], [DatasetRequest(case[3], case[4], case[5])]) for case in CASES]
    together = decisions.decide_many(bundle, cases)
    assert [d.outcome for d in together] == [case[6] for case in CASES]


# --- the bundle fails closed ---------------------------------------------------------------

@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    for path in decisions.POLICY_DIR.glob("*.cedar*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_misspelled_attribute_stops_loading(policy_copy):
    edit(policy_copy / "20_purpose.cedar", "!principal.accredited", "!principal.acredited")
    with pytest.raises(PolicyError, match=r"requester\.not_accredited.*acredited"):
        load_policy_bundle(policy_copy)


def test_misspelled_context_attribute_stops_loading(policy_copy):
    edit(policy_copy / "40_data.cedar", "context.cohort_size < 0", "context.cohort_sise < 0")
    with pytest.raises(PolicyError, match="cohort_sise"):
        load_policy_bundle(policy_copy)


def test_type_error_stops_loading(policy_copy):
    edit(policy_copy / "50_review.cedar", "context.duration_days > 1095",
         'context.duration_days > "1095"')
    with pytest.raises(PolicyError, match=r"review\.long_duration"):
        load_policy_bundle(policy_copy)


def test_syntax_error_stops_loading(policy_copy):
    edit(policy_copy / "30_duo.cedar", "forbid (", "forbidd (")
    with pytest.raises(PolicyError, match="parse"):
        load_policy_bundle(policy_copy)


def test_rule_without_reason_stops_loading(policy_copy):
    edit(policy_copy / "30_duo.cedar",
         '@reason("The dataset may not be used commercially (DUO NCU).")\n', "")
    with pytest.raises(PolicyError, match=r"duo\.ncu lacks annotation\(s\) @reason"):
        load_policy_bundle(policy_copy)


def test_unknown_outcome_stops_loading(policy_copy):
    edit(policy_copy / "50_review.cedar", '@outcome("review")', '@outcome("maybe")')
    with pytest.raises(PolicyError, match="maybe"):
        load_policy_bundle(policy_copy)


def test_duplicate_rule_id_stops_loading(policy_copy):
    edit(policy_copy / "30_duo.cedar", '@id("duo.npu")', '@id("duo.ncu")')
    with pytest.raises(PolicyError, match=r"duplicate rule ids: duo\.ncu"):
        load_policy_bundle(policy_copy)


def test_missing_schema_stops_loading(policy_copy):
    (policy_copy / "access.cedarschema").unlink()
    with pytest.raises(PolicyError, match="cedarschema"):
        load_policy_bundle(policy_copy)


def test_policy_version_follows_the_files(policy_copy, bundle):
    assert load_policy_bundle(policy_copy).version == bundle.version
    edit(policy_copy / "50_review.cedar", "> 1095", "> 1000")
    assert load_policy_bundle(policy_copy).version != bundle.version


def test_evaluation_error_is_a_deny(policy_copy):
    # An overflow makes this forbid rule fail at evaluation; Cedar would skip it, we deny.
    (policy_copy / "60_overflow.cedar").write_text(
        '@id("test.overflow") @outcome("deny") @reason("r") @reason_da("r")\n'
        'forbid (principal, action == Action::"apply", resource)\n'
        "when { context.duration_days * 9223372036854775807 > 0 };\n", encoding="utf-8")
    bundle = load_policy_bundle(policy_copy)
    decision = decide(bundle, requester=COMPANY, application=app(),
                      requests=[DatasetRequest(dataset(), ("age",), 100)])
    assert decision.outcome == "deny"
    assert decision.rule_ids == {"engine.error"}


def test_engine_failure_denies_the_whole_batch(bundle):
    clash = PurposeFacts("public_research", commercial=True)  # same code, other facts
    decisions_ = decisions.decide_many(bundle, [
        (COMPANY, app(), [DatasetRequest(dataset(), ("age",), 100)]),
        (COMPANY, app(purpose=clash), [DatasetRequest(dataset(), ("age",), 100)])])
    assert [d.outcome for d in decisions_] == ["deny", "deny"]
    assert all(d.rule_ids == {"engine.error"} for d in decisions_)


# --- facts ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "sks"), [
    ("J44.9", "DJ449"), ("dj44", "DJ44"), ("DJ449", "DJ449"), ("D50", "DD50"), ("C34", "DC34")])
def test_disease_codes_are_normalised_to_sks(code, sks):
    assert decisions.normalise_disease_code(code) == sks


@pytest.mark.parametrize("code", ["", "44", "lung cancer", "J4#", "DJ449999999"])
def test_malformed_disease_codes_are_refused(code):
    with pytest.raises(ValueError, match="diagnosis code"):
        decisions.normalise_disease_code(code)


@given(parent=st.from_regex(r"D[A-Z][0-9]{1,2}", fullmatch=True),
       suffix=st.from_regex(r"[0-9]{1,3}", fullmatch=True))
def test_ds_hierarchy_is_one_way(parent, suffix):
    child = parent + suffix
    assert decisions.diseases_within([child], [parent])
    assert not decisions.diseases_within([parent], [child])


def test_data_use_modifiers_carry_arguments():
    parsed = decisions.parse_data_use(
        {"permission": "ds", "diseases": ["DJ44"], "modifiers": ["TS(12)", "GS:EU", "NCU", "??"]})
    assert parsed.permission == "DS"
    assert parsed.modifiers == {"TS", "GS", "NCU"}
    assert parsed.ts_months() == 12
    assert "DE" in parsed.countries() and "NO" not in parsed.countries()
    assert decisions.parse_data_use({"modifiers": ["GS:DK,SE"]}).countries() == {"DK", "SE"}
    assert decisions.parse_data_use(None).permission == "NRES"


def test_ts_limit_counts_calendar_months():
    facts = dataset(data_use=use("GRU", "TS:1"), as_of=date(2027, 1, 31))
    assert facts.ts_max_days == 28  # 31 January + 1 month = 28 February


def test_duties_come_from_the_modifiers():
    duties = decisions.permit_duties(use("GRU", "IRB", "PUB", "RTN", "COL", "MOR:2027-06-01"))
    assert duties == [{"code": "IRB"}, {"code": "COL"}, {"code": "PUB"}, {"code": "RTN"},
                      {"code": "MOR", "until": "2027-06-01"}]
    assert decisions.permit_duties(use("GRU", "NCU")) == []


def test_direct_identifiers_are_never_shareable_and_the_subject_is():
    facts = dataset()
    assert "cpr" in facts.shareable_columns and "name" not in facts.shareable_columns
    assert facts.direct_identifiers == {"name"}
    assert "notes" not in facts.shareable_columns
