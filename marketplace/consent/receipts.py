"""Consent receipts: FHIR R4 Consent resources and ISO/IEC TS 27560 consent records.

Pure: built from a citizen's standing choices and plain lookups of names. The citizen appears
only under a pseudonymous identifier; a receipt never carries a CPR number.
"""
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marketplace.catalog.purposes import Purpose, Taxonomy
from marketplace.consent.evaluation import (
    DENY,
    PERMIT,
    SCOPE_DATASET,
    SCOPE_HOLDER,
    CitizenConsent,
    StandingChoice,
)

EHDS_ELI = "http://data.europa.eu/eli/reg/2025/327/oj"
PSEUDONYM_SYSTEM = "urn:marketplace:citizen-pseudonym"
PURPOSE_SYSTEM = "urn:marketplace:purpose"
HOLDER_SYSTEM = "urn:marketplace:organisation"
DATASET_SYSTEM = "urn:marketplace:dataset"
DUO_SYSTEM = "http://purl.obolibrary.org/obo/duo.owl"
DUO_TERMS = {"NRES": "DUO:0000004", "GRU": "DUO:0000042", "HMB": "DUO:0000006",
             "DS": "DUO:0000007", "POA": "DUO:0000011"}
RESEARCH_PURPOSES = {"public_research", "company_research", "test_environment"}
CONTROLLER = "Sundhedsdatamarkedspladsen, Greater Copenhagen"
_RECEIPT_NAMESPACE = uuid.UUID("6f0b2f8e-3c55-4d0e-9d8e-2f6a1c7e5b10")


@dataclass(frozen=True)
class ReceiptFacts:
    """Everything a receipt states, gathered by the service."""

    citizen_id: int
    pseudonym: str
    consent: CitizenConsent
    taxonomy: Taxonomy
    holders: Mapping[int, tuple[str, str]]  # org id -> (slug, name)
    datasets: Mapping[int, str]  # dataset id -> title
    actor_pseudonyms: Mapping[int, str]  # citizen id of whoever acted -> pseudonym
    generated_at: datetime
    notice_url: str


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _record_id(facts: ReceiptFacts, suffix: str) -> str:
    return str(uuid.uuid5(_RECEIPT_NAMESPACE, f"{facts.pseudonym}:{suffix}"))


def _pseudonym_identifier(value: str) -> dict:
    return {"system": PSEUDONYM_SYSTEM, "value": value}


def _purpose_codings(purpose: Purpose, system: str) -> list[dict]:
    codings = [{"system": PURPOSE_SYSTEM, "code": purpose.code, "display": purpose.label_en}]
    if purpose.purpose_of_use:
        codings.append({"system": system, "code": purpose.purpose_of_use})
    if purpose.duo in DUO_TERMS:
        codings.append({"system": DUO_SYSTEM, "code": DUO_TERMS[purpose.duo],
                        "display": purpose.duo})
    return codings


def _scope_description(facts: ReceiptFacts, choice: StandingChoice) -> dict:
    if choice.scope_type == SCOPE_HOLDER and choice.scope_id is not None:
        slug, name = facts.holders.get(choice.scope_id, ("", ""))
        return {"type": choice.scope_type, "id": choice.scope_id, "slug": slug, "name": name}
    if choice.scope_type == SCOPE_DATASET and choice.scope_id is not None:
        return {"type": choice.scope_type, "id": choice.scope_id,
                "name": facts.datasets.get(choice.scope_id, "")}
    return {"type": choice.scope_type, "id": None}


def _performer(facts: ReceiptFacts, actor_citizen_id: int) -> dict:
    reference: dict[str, Any] = {"identifier": _pseudonym_identifier(
        facts.actor_pseudonyms.get(actor_citizen_id, facts.pseudonym))}
    if actor_citizen_id != facts.citizen_id:
        reference["display"] = "Parent with custody acting for the child"
    return reference


def _provision_scope(facts: ReceiptFacts, choice: StandingChoice) -> dict:
    """Restrict a provision to one data holder (custodian) or one dataset."""
    scope = _scope_description(facts, choice)
    if choice.scope_type == SCOPE_HOLDER:
        return {"actor": [{
            "role": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "CST", "display": "custodian"}]},
            "reference": {"identifier": {"system": HOLDER_SYSTEM, "value": scope["slug"]},
                          "display": scope["name"]}}]}
    if choice.scope_type == SCOPE_DATASET:
        return {"data": [{"meaning": "instance", "reference": {
            "identifier": {"system": DATASET_SYSTEM, "value": str(choice.scope_id)},
            "display": scope["name"]}}]}
    return {}


def _consent_resource(facts: ReceiptFacts, *, resource_id: str, moment: datetime,
                      actor_citizen_id: int, rule: str, scope_code: str,
                      provision: dict) -> dict:
    return {
        "resourceType": "Consent",
        "id": resource_id,
        "status": "active",
        "scope": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": scope_code}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0",
                                  "display": "Patient Consent"}]}],
        "patient": {"identifier": _pseudonym_identifier(facts.pseudonym)},
        "dateTime": _iso(moment),
        "performer": [_performer(facts, actor_citizen_id)],
        "organization": [{"display": CONTROLLER}],
        "policy": [{"authority": EHDS_ELI,
                    "uri": f"{facts.notice_url}#notice-{facts.taxonomy.notice_version}"}],
        "policyRule": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": rule}]},
        "provision": {"period": {"start": _iso(moment)}, **provision},
    }


def _choice_resource(facts: ReceiptFacts, choice: StandingChoice) -> dict:
    purpose = facts.taxonomy.get(choice.purpose)
    codings = _purpose_codings(purpose, facts.taxonomy.purpose_of_use_system) if purpose else []
    return _consent_resource(
        facts, resource_id=f"consent-event-{choice.event_id}", moment=choice.at,
        actor_citizen_id=choice.actor_citizen_id,
        rule="OPTIN" if choice.decision == PERMIT else "OPTOUT",
        scope_code="research" if choice.purpose in RESEARCH_PURPOSES else "patient-privacy",
        provision={"type": PERMIT if choice.decision == PERMIT else DENY,
                   "purpose": codings, **_provision_scope(facts, choice)})


def _opt_out_resource(facts: ReceiptFacts) -> dict:
    event = facts.consent.opt_out_event
    if event is None:
        raise ValueError("the citizen has not opted out")
    # No purpose and no data restriction: the denial covers every secondary use (EHDS Art. 71).
    return _consent_resource(
        facts, resource_id=f"consent-event-{event.id}", moment=event.at,
        actor_citizen_id=event.actor_citizen_id, rule="OPTOUT", scope_code="patient-privacy",
        provision={"type": DENY})


def fhir_bundle(facts: ReceiptFacts) -> dict:
    """The citizen's standing consents as a FHIR R4 Bundle (type collection) of Consents."""
    resources = [_choice_resource(facts, choice) for choice in facts.consent.choices]
    if facts.consent.opt_out:
        resources.insert(0, _opt_out_resource(facts))
    return {
        "resourceType": "Bundle",
        "id": _record_id(facts, f"bundle:{_iso(facts.generated_at)}"),
        "type": "collection",
        "timestamp": _iso(facts.generated_at),
        "entry": [{"fullUrl": f"urn:uuid:{_record_id(facts, resource['id'])}",
                   "resource": resource} for resource in resources],
    }


def _record_purpose(purpose: Purpose | None, code: str) -> dict:
    if purpose is None:
        return {"code": code}
    return {"code": purpose.code, "label_da": purpose.label_da, "label_en": purpose.label_en,
            "ehds_article": purpose.ehds_article, "duo": purpose.duo,
            "commercial": purpose.commercial}


def _acted_by(facts: ReceiptFacts, actor_citizen_id: int) -> str:
    return "pii_principal" if actor_citizen_id == facts.citizen_id else "guardian"


def consent_record(facts: ReceiptFacts) -> dict:
    """The citizen's consents as an ISO/IEC TS 27560 consent record (JSON receipt)."""
    consent = facts.consent
    opt_out = None
    if consent.opt_out and consent.opt_out_event and consent.opt_out_since:
        opt_out = {"state": "given", "since": _iso(consent.opt_out_since),
                   "acted_by": _acted_by(facts, consent.opt_out_event.actor_citizen_id),
                   "legal_basis": "EHDS Art. 71 (opt-out from secondary use)"}
    return {
        "schema_version": "ISO/IEC TS 27560:2023",
        "record_id": _record_id(facts, f"record:{_iso(facts.generated_at)}"),
        "record_generated_at": _iso(facts.generated_at),
        "pii_principal_id": facts.pseudonym,
        "pii_principal_id_system": PSEUDONYM_SYSTEM,
        "controller": {"name": CONTROLLER, "jurisdiction": "DK"},
        "jurisdiction": "DK",
        "applicable_legislation": [EHDS_ELI, "http://data.europa.eu/eli/reg/2016/679/oj"],
        "notice": {"version": facts.taxonomy.notice_version, "location": facts.notice_url},
        "pii_categories": ["health data"],
        "opt_out_of_secondary_use": opt_out,
        "consents": [{
            "consent_id": f"consent-event-{choice.event_id}",
            "purpose": _record_purpose(facts.taxonomy.get(choice.purpose), choice.purpose),
            "scope": _scope_description(facts, choice),
            "consent_type": "explicit",
            "state": "given" if choice.decision == PERMIT else "refused",
            "timestamp": _iso(choice.at),
            "notice_version": choice.notice_version,
            "collection_method": "online self-service after sign-in with MitID",
            "acted_by": _acted_by(facts, choice.actor_citizen_id),
        } for choice in consent.choices],
    }


def receipt_content(facts: ReceiptFacts) -> dict:
    """What a receipt's verification hash covers: the consent record without its own id and
    the moment it was made, so the hash changes only when the consents do."""
    record = consent_record(facts)
    del record["record_id"], record["record_generated_at"]
    return record
