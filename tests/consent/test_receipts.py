"""Consent receipts: valid FHIR R4 Consent resources and ISO/IEC TS 27560 records, no CPR."""
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fhir.resources.R4B.bundle import Bundle

from marketplace.catalog.purposes import load_taxonomy
from marketplace.consent.evaluation import fold_citizen_events
from marketplace.consent.receipts import ReceiptFacts, consent_record, fhir_bundle

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
CHILD, PARENT = 11, 12


class Event:
    def __init__(self, id, day, decision, scope_type="all", scope_id=None,
                 purpose="company_research", actor=CHILD):
        self.id, self.at, self.decision = id, T0 + timedelta(days=day), decision
        self.scope_type, self.scope_id, self.purpose = scope_type, scope_id, purpose
        self.actor_citizen_id, self.notice_version = actor, "2026-11-01"


def facts(events) -> ReceiptFacts:
    return ReceiptFacts(
        citizen_id=CHILD, pseudonym="p-child", consent=fold_citizen_events(events),
        taxonomy=load_taxonomy(), holders={4: ("herlev-hospital", "Herlev Hospital")},
        datasets={9: "KOL-forløb 2020-2025"}, actor_pseudonyms={CHILD: "p-child",
                                                                PARENT: "p-parent"},
        generated_at=T0 + timedelta(days=10), notice_url="http://localhost/consent")


EVENTS = [
    Event(1, 0, "permit"),
    Event(2, 1, "deny", "holder", 4, actor=PARENT),
    Event(3, 2, "permit", "dataset", 9, purpose="public_research"),
    Event(4, 3, "opt_out", purpose=None),
]


def test_bundle_is_valid_fhir_with_one_consent_per_standing_choice():
    bundle = fhir_bundle(facts(EVENTS))
    Bundle.model_validate(bundle)  # raises on any structural error
    assert bundle["type"] == "collection"
    consents = [entry["resource"] for entry in bundle["entry"]]
    assert [c["provision"]["type"] for c in consents] == ["deny", "permit", "deny", "permit"]
    assert all(c["status"] == "active" and c["category"] and c["dateTime"] for c in consents)
    assert all(c["patient"]["identifier"]["value"] == "p-child" for c in consents)


def test_opt_out_is_a_deny_without_purpose_restriction():
    opt_out = fhir_bundle(facts(EVENTS))["entry"][0]["resource"]
    assert opt_out["policyRule"]["coding"][0]["code"] == "OPTOUT"
    assert "purpose" not in opt_out["provision"]


def test_scoped_choices_name_the_holder_and_dataset_and_the_purpose_codes():
    consents = [e["resource"] for e in fhir_bundle(facts(EVENTS))["entry"]]
    holder = next(c for c in consents if "actor" in c["provision"])
    assert holder["provision"]["actor"][0]["reference"]["display"] == "Herlev Hospital"
    assert holder["performer"][0]["identifier"]["value"] == "p-parent"
    dataset = next(c for c in consents if "data" in c["provision"])
    assert dataset["provision"]["data"][0]["reference"]["display"] == "KOL-forløb 2020-2025"
    codes = {coding["code"] for coding in dataset["provision"]["purpose"]}
    assert {"public_research", "HRESCH", "DUO:0000006"} <= codes
    assert dataset["provision"]["period"]["start"].startswith("2026-03-03")


def test_withdrawn_choices_and_opt_out_are_not_in_the_receipt():
    events = [Event(1, 0, "permit"), Event(2, 1, "clear"), Event(3, 2, "opt_out", purpose=None),
              Event(4, 3, "opt_out_withdrawn", purpose=None)]
    bundle = fhir_bundle(facts(events))
    Bundle.model_validate(bundle)
    assert bundle["entry"] == []
    assert consent_record(facts(events))["opt_out_of_secondary_use"] is None


def test_iso_27560_record_lists_purposes_states_and_who_acted():
    record = consent_record(facts(EVENTS))
    assert record["schema_version"].startswith("ISO/IEC TS 27560")
    assert record["pii_principal_id"] == "p-child"
    assert record["notice"]["version"] == "2026-11-01"
    assert record["opt_out_of_secondary_use"]["state"] == "given"
    states = {(c["purpose"]["code"], c["scope"]["type"]): (c["state"], c["acted_by"])
              for c in record["consents"]}
    assert states[("company_research", "holder")] == ("refused", "guardian")
    assert states[("company_research", "all")] == ("given", "pii_principal")
    assert states[("public_research", "dataset")] == ("given", "pii_principal")


@pytest.mark.parametrize("build", [fhir_bundle, consent_record])
def test_receipts_are_json_without_anything_shaped_like_a_cpr(build):
    text = json.dumps(build(facts(EVENTS)))
    assert build(facts(EVENTS)) == json.loads(text)
    assert not re.search(r"(?<!\d)\d{6}-?\d{4}(?!\d)", text)
