"""The access decision: facts about an application in, a Cedar decision out.

Pure module: no database, no Flask. The policies and their schema live in ``policies/`` as
reviewed data; this module loads and validates them (failing closed), turns plain facts into
Cedar requests (one per requested dataset) and turns Cedar's answer into an explainable
Decision. Everything the rules decide is in Cedar; Python only precomputes facts Cedar cannot
express (the DUO disease hierarchy on SKS codes, the calendar length of a TS limit).
"""
from __future__ import annotations

import calendar
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import cedarpy
from cedarpy import _internal as cedarpy_internal

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
PUBLIC_BODY_KINDS = frozenset({"national", "regional", "municipal"})
REQUIRED_ANNOTATIONS = ("id", "outcome", "reason", "reason_da")
ENGINE_ERROR = "engine.error"
NO_DATASETS = "engine.no_datasets"
NO_PERMIT = "engine.no_permit"
APPLY = {"type": "Action", "id": "apply"}

# Regions a DUO GS condition may name besides ISO country codes.
_EU = ["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
       "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"]
REGIONS = {
    "EU": frozenset(_EU),
    "EEA": frozenset([*_EU, "IS", "LI", "NO"]),
    "NORDIC": frozenset({"DK", "SE", "NO", "FI", "IS"}),
}
DUTY_CODES = ("IRB", "COL", "PUB", "RTN", "MOR")
_MODIFIER = re.compile(r"^([A-Za-z]+)(?:[:(]\s*([^)]*?)\s*\)?)?$")
_SKS = re.compile(r"^D[A-Z][0-9A-Z]*$")
_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z]*$")


class PolicyError(Exception):
    """The policy bundle cannot be loaded: unreadable, invalid against its schema, or
    missing the annotations every rule must carry."""


@dataclass(frozen=True)
class Rule:
    id: str
    outcome: str  # "permit" (the base rule), "deny" or "review"
    reason: str
    reason_da: str


@dataclass(frozen=True)
class PolicyBundle:
    policy_set: cedarpy.PolicySet
    schema: cedarpy.Schema
    rules_by_policy: dict[str, Rule]
    version: str

    @property
    def rules(self) -> list[Rule]:
        return sorted(self.rules_by_policy.values(), key=lambda rule: rule.id)


@dataclass(frozen=True)
class RequesterFacts:
    slug: str
    kind: str
    country: str
    accredited: bool

    @property
    def public_body(self) -> bool:
        return self.kind in PUBLIC_BODY_KINDS

    @property
    def for_profit(self) -> bool:
        return self.kind == "company"

    @property
    def eea(self) -> bool:
        return self.country.upper() in REGIONS["EEA"]


@dataclass(frozen=True)
class DatasetFacts:
    id: int
    published: bool
    sensitive: bool
    permission: str
    diseases: tuple[str, ...] = ()
    modifiers: frozenset[str] = frozenset()
    gs_countries: frozenset[str] = frozenset()
    ts_max_days: int = -1
    institutions: frozenset[str] = frozenset()
    purposes: frozenset[str] = frozenset()
    k_min: int = 5
    shareable_columns: frozenset[str] = frozenset()
    direct_identifiers: frozenset[str] = frozenset()
    subject_column: str | None = None


@dataclass(frozen=True)
class PurposeFacts:
    code: str
    known: bool = True
    prohibited: bool = False
    commercial: bool = False
    public_bodies_only: bool = False
    duo: str | None = "HMB"  # DUO category of the purpose (GRU, HMB or POA)


@dataclass(frozen=True)
class ApplicationFacts:
    purpose: PurposeFacts
    diseases: tuple[str, ...] = ()
    duration_days: int = 365
    pseudonymised: bool = False
    pseudonymisation_justified: bool = False
    ethics_approval: bool = False
    for_test_environment: bool = False

    @property
    def pseudonymisation(self) -> str:
        if not self.pseudonymised:
            return "none"
        return "justified" if self.pseudonymisation_justified else "unjustified"

    @property
    def request_duo(self) -> str:
        """The DUO category of the request: a research purpose naming diseases is DS."""
        if self.purpose.duo == "POA":
            return "POA"
        if self.diseases:
            return "DS"
        return self.purpose.duo or "GRU"


@dataclass(frozen=True)
class DatasetRequest:
    dataset: DatasetFacts
    columns: tuple[str, ...]
    cohort_size: int | None


@dataclass(frozen=True)
class Reason:
    rule: str
    message: str
    message_da: str
    datasets: tuple[int, ...] = ()

    def to_json(self) -> dict:
        return {"rule": self.rule, "message": self.message, "message_da": self.message_da,
                "datasets": list(self.datasets)}


@dataclass(frozen=True)
class Decision:
    outcome: str
    reasons: tuple[Reason, ...]
    policy_version: str

    @property
    def rule_ids(self) -> frozenset[str]:
        return frozenset(reason.rule for reason in self.reasons)

    def to_json(self) -> dict:
        return {"outcome": self.outcome, "reasons": [r.to_json() for r in self.reasons],
                "policy_version": self.policy_version}


# --- loading the bundle -------------------------------------------------------------------

def bundle_sources(directory: Path) -> tuple[str, str, str]:
    """Read the policies and the schema; return (policies text, schema text, sha256)."""
    policy_files = sorted(directory.glob("*.cedar"))
    schema_files = sorted(directory.glob("*.cedarschema"))
    if not policy_files or len(schema_files) != 1:
        raise PolicyError(f"{directory} must hold *.cedar policies and exactly one *.cedarschema")
    digest = hashlib.sha256()
    for path in policy_files + schema_files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    policies = "\n".join(path.read_text(encoding="utf-8") for path in policy_files)
    return policies, schema_files[0].read_text(encoding="utf-8"), digest.hexdigest()


def load_policy_bundle(directory: Path = POLICY_DIR) -> PolicyBundle:
    """Load, validate and index the policy bundle; raise PolicyError on any defect."""
    policies, schema_text, version = bundle_sources(Path(directory))
    try:
        schema = cedarpy.Schema.from_str(schema_text)
        policy_set = cedarpy.PolicySet.from_str(policies)
        nodes = cedarpy.policies_to_pst(policies)
    except ValueError as exc:
        raise PolicyError(f"policies or schema do not parse: {exc}") from exc
    validation = cedarpy.validate_policies(policies, schema)
    if not validation.validation_passed:
        names = validation.id_annotations_by_policy_id
        problems = "; ".join(
            f"{names.get(e.policy_id, e.policy_id)}: {e.error}" for e in validation.errors)
        raise PolicyError(f"policies do not validate against the schema: {problems}")
    if nodes.templates:
        raise PolicyError("policy templates are not used by the access decision")
    # Keep the rules in source order so that reasons are listed as the policies read.
    ordered = sorted(nodes.static_policies.items(), key=lambda item: _policy_number(item[0]))
    rules = {pid: _rule_of(pid, node.effect, dict(node.annotations)) for pid, node in ordered}
    ids = [rule.id for rule in rules.values()]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PolicyError(f"duplicate rule ids: {', '.join(duplicates)}")
    return PolicyBundle(policy_set=policy_set, schema=schema, rules_by_policy=rules,
                        version=version)


@lru_cache(maxsize=1024)
def _policy_number(policy_id: str) -> int:
    digits = re.sub(r"\D", "", policy_id)
    return int(digits) if digits else 0


def _rule_of(policy_id: str, effect: str, annotations: dict[str, str]) -> Rule:
    missing = [name for name in REQUIRED_ANNOTATIONS if not annotations.get(name)]
    if missing:
        name = annotations.get("id") or policy_id
        raise PolicyError(f"rule {name} lacks annotation(s) {', '.join('@' + m for m in missing)}")
    outcome = annotations["outcome"]
    expected = ("permit",) if effect == "permit" else ("deny", "review")
    if outcome not in expected:
        raise PolicyError(f"rule {annotations['id']}: a {effect} rule cannot have "
                          f"@outcome(\"{outcome}\")")
    return Rule(id=annotations["id"], outcome=outcome, reason=annotations["reason"],
                reason_da=annotations["reason_da"])


@lru_cache(maxsize=4)
def policy_bundle(directory: Path = POLICY_DIR) -> PolicyBundle:
    """The bundle of `directory`, loaded once per process."""
    return load_policy_bundle(directory)


# --- facts --------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def normalise_disease_code(code: str) -> str:
    """Return the SKS form of an ICD-10 code ("J44.9" -> "DJ449"); raise ValueError."""
    text = str(code).strip().upper().replace(".", "")
    if _SKS.match(text) and len(text) <= 8:
        return text
    if _ICD10.match(text) and len(text) <= 7:
        return "D" + text
    raise ValueError(f"not an ICD-10 or SKS diagnosis code: {code!r}")


def diseases_within(requested: Iterable[str], allowed: Iterable[str]) -> bool:
    """True when every requested disease equals or descends from an allowed one (SKS prefix)."""
    allowed_codes = tuple(normalise_disease_code(code) for code in allowed)
    requested_codes = [normalise_disease_code(code) for code in requested]
    return bool(requested_codes) and all(code.startswith(allowed_codes) for code in requested_codes)


@dataclass(frozen=True)
class DataUse:
    permission: str
    diseases: tuple[str, ...]
    modifiers: frozenset[str]
    arguments: dict[str, str]

    def countries(self) -> frozenset[str]:
        """Countries a GS condition admits (regions expanded; bare GS means Denmark)."""
        codes = re.split(r"[\s,;]+", self.arguments.get("GS", "DK").upper())
        countries: set[str] = set()
        for code in filter(None, codes):
            countries |= REGIONS.get(code, {code})
        return frozenset(countries)

    def ts_months(self) -> int | None:
        value = self.arguments.get("TS")
        return int(value) if value and value.isdigit() else None

    def institutions(self) -> frozenset[str]:
        return frozenset(filter(None, re.split(r"[\s,;]+", self.arguments.get("IS", ""))))


def parse_data_use(data_use: dict | None) -> DataUse:
    """Read a descriptor's data_use; modifiers may carry arguments: "TS:12", "GS(EU)"."""
    data_use = data_use or {}
    modifiers: set[str] = set()
    arguments: dict[str, str] = {}
    for raw in data_use.get("modifiers") or []:
        match = _MODIFIER.match(str(raw).strip())
        if not match:
            continue
        code = match.group(1).upper()
        modifiers.add(code)
        if match.group(2):
            arguments[code] = match.group(2)
    return DataUse(permission=str(data_use.get("permission") or "NRES").upper(),
                   diseases=tuple(data_use.get("diseases") or ()),
                   modifiers=frozenset(modifiers), arguments=arguments)


def add_months(start: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return start.replace(year=year, month=month,
                         day=min(start.day, calendar.monthrange(year, month)[1]))


def dataset_facts(*, dataset_id: int, status: str, access_rights: str,
                  data_use: dict | None, k_min: int, columns: Sequence[dict],
                  subject_column: str | None, purposes: Iterable[str] = (),
                  as_of: date) -> DatasetFacts:
    """Build the facts Cedar sees about one dataset from its descriptor fields."""
    use = parse_data_use(data_use)
    months = use.ts_months()
    shareable, direct = set(), set()
    for column in columns:
        name = column["name"]
        is_direct = column.get("role") == "direct_identifier"
        if column.get("shareable", name == subject_column or not is_direct):
            shareable.add(name)
        if is_direct and name != subject_column:
            direct.add(name)
    return DatasetFacts(
        id=dataset_id, published=status == "published",
        sensitive=access_rights == "NON_PUBLIC", permission=use.permission,
        diseases=use.diseases, modifiers=use.modifiers, gs_countries=use.countries(),
        ts_max_days=(add_months(as_of, months) - as_of).days if months else -1,
        institutions=use.institutions(), purposes=frozenset(purposes), k_min=int(k_min),
        shareable_columns=frozenset(shareable),
        direct_identifiers=frozenset(direct), subject_column=subject_column)


def purpose_facts(code: str, purpose: Any | None) -> PurposeFacts:
    """Facts about a purpose of the taxonomy (`purpose` as consent serves it; None: unknown)."""
    if purpose is None:
        return PurposeFacts(code=code, known=False, duo=None)
    return PurposeFacts(code=code, prohibited=bool(purpose.prohibited),
                        commercial=bool(purpose.commercial),
                        public_bodies_only=bool(purpose.public_bodies_only),
                        duo=purpose.duo)


def permit_duties(data_use: dict | None) -> list[dict]:
    """The DUO duties a permit on this dataset carries (IRB, COL, PUB, RTN, MOR)."""
    use = parse_data_use(data_use)
    duties = []
    for code in DUTY_CODES:
        if code in use.modifiers:
            duty = {"code": code}
            if code == "MOR" and use.arguments.get("MOR"):
                duty["until"] = use.arguments["MOR"]
            duties.append(duty)
    return duties


# --- evaluation ---------------------------------------------------------------------------

def _requester_entity(uid: str, requester: RequesterFacts, purpose: dict) -> dict:
    return {"uid": {"type": "Requester", "id": uid}, "parents": [], "attrs": {
        "slug": requester.slug, "country": requester.country.upper(),
        "accredited": requester.accredited, "public_body": requester.public_body,
        "for_profit": requester.for_profit, "eea": requester.eea,
        "purpose": {"__entity": purpose}}}


def _purpose_entity(uid: str, facts: PurposeFacts) -> dict:
    return {"uid": {"type": "Purpose", "id": facts.code}, "parents": [], "attrs": {
        "known": facts.known, "prohibited": facts.prohibited, "commercial": facts.commercial,
        "public_bodies_only": facts.public_bodies_only}}


def _dataset_entity(uid: str, facts: DatasetFacts) -> dict:
    return {"uid": {"type": "Dataset", "id": uid}, "parents": [], "attrs": {
        "published": facts.published, "sensitive": facts.sensitive,
        "permission": facts.permission, "modifiers": sorted(facts.modifiers),
        "gs_countries": sorted(facts.gs_countries), "ts_max_days": facts.ts_max_days,
        "institutions": sorted(facts.institutions),
        "purposes": [{"__entity": {"type": "Purpose", "id": code}}
                     for code in sorted(facts.purposes)],
        "k_min": facts.k_min, "shareable_columns": sorted(facts.shareable_columns),
        "direct_identifiers": sorted(facts.direct_identifiers),
        "subject_column": [facts.subject_column] if facts.subject_column else []}}


# The context of every request is written as JSON text here, from pieces serialised once per
# application (and cached across applications), instead of a dict that cedarpy would serialise
# again per request: it is the same JSON, at a fraction of the cost.

_json_text = lru_cache(maxsize=4096)(json.dumps)


@lru_cache(maxsize=4096)
def _json_list(values: tuple[str, ...]) -> str:
    return json.dumps(list(values))


def _fact(value: object) -> str:
    """JSON text of a Bool or Long fact. Anything else is serialised as it is, so that Cedar
    meets a fact of the wrong shape, fails to evaluate and the application is denied."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value) if type(value) is int else json.dumps(value)


def _application_context(application: ApplicationFacts) -> str:
    """The opening of the context: the fields one application shares across its datasets."""
    return (f'{{"request_duo":{_json_text(application.request_duo)},'
            f'"duration_days":{_fact(application.duration_days)},'
            f'"pseudonymisation":{_json_text(application.pseudonymisation)},'
            f'"ethics_approval":{_fact(application.ethics_approval)},'
            f'"for_test_environment":{_fact(application.for_test_environment)}')


@lru_cache(maxsize=4096)
def _diseases_within(requested: tuple[str, ...], allowed: tuple[str, ...]) -> bool:
    return diseases_within(requested, allowed)


def _request_context(shared: str, application: ApplicationFacts,
                     request: DatasetRequest) -> str:
    """The whole context of one Cedar request: what the application asks of one dataset."""
    dataset = request.dataset
    within = (bool(dataset.diseases) and application.request_duo == "DS"
              and _diseases_within(tuple(application.diseases), tuple(dataset.diseases)))
    size = -1 if request.cohort_size is None else request.cohort_size
    return (f'{shared},"diseases_within_dataset_diseases":{_fact(within)},'
            f'"columns":{_json_list(tuple(request.columns))},"cohort_size":{_fact(size)}}}')


Case = tuple[RequesterFacts, ApplicationFacts, Sequence[DatasetRequest]]


def decide(bundle: PolicyBundle, *, requester: RequesterFacts, application: ApplicationFacts,
           requests: Sequence[DatasetRequest]) -> Decision:
    """Decide one application; every requested dataset is one Cedar request."""
    return decide_many(bundle, [(requester, application, requests)])[0]


def cedar_batch(cases: Sequence[Case]) -> tuple[list[dict], str]:
    """The Cedar requests (one per requested dataset, the context as JSON text) and the
    shared entities as JSON."""
    entities: dict[object, dict] = {}
    cedar_requests: list[dict] = []
    append = cedar_requests.append
    # Requesters and datasets are keyed by identity (hashing their facts costs more than a
    # duplicate entity; the cases keep them alive, so an identity is not reused); purposes by
    # value, since their uid is their code.
    for requester, application, requests in cases:
        purpose = _uid(entities, ("Purpose", application.purpose), _purpose_entity,
                       application.purpose)
        principal = _uid(entities, ("Requester", id(requester), purpose["id"]),
                         _requester_entity, requester, purpose)
        shared = _application_context(application)
        for request in requests:
            dataset = request.dataset
            append({"principal": principal, "action": APPLY,
                    "resource": _uid(entities, ("Dataset", id(dataset)), _dataset_entity,
                                     dataset),
                    "context": _request_context(shared, application, request)})
    return cedar_requests, json.dumps(list(entities.values()))


def decide_many(bundle: PolicyBundle, cases: Sequence[Case]) -> list[Decision]:
    """Decide many applications in one Cedar batch (the entities are shared).

    The schema is enforced when the bundle loads (every policy is type-checked) and the facts
    are built here from typed dataclasses (tests check them against the schema); evaluation
    skips the per-request schema check, which costs a quarter of the engine's time. A fact of
    the wrong shape still fails closed: Cedar reports an evaluation error, and that is a deny.
    """
    cedar_requests, entities = cedar_batch(cases)
    try:
        verdicts = evaluate(bundle, cedar_requests, entities) if cedar_requests else []
    except (ValueError, TypeError, RuntimeError, KeyError) as exc:
        # Fail closed: an engine that cannot evaluate denies every application in the batch.
        error = _engine_error(str(exc))
        return [Decision("deny", (error,), bundle.version) for _ in cases]
    decisions, position = [], 0
    for _, _, requests in cases:
        chunk = verdicts[position:position + len(requests)]
        position += len(requests)
        decisions.append(_combine(bundle, requests, chunk))
    return decisions


# Cedar's answer to one request: "Allow", "Deny" or "NoDecision", the ids of the policies that
# held, and the evaluation errors.
Verdict = tuple[str, list[str], list[str]]

# cedarpy answers every request as JSON text. Nearly every answer has this exact shape (no
# errors), and reading the decision and policy ids from it costs a fifth of parsing the JSON;
# anything else (errors, a future field order) is parsed as JSON.
_ANSWER = re.compile(
    r'\{"decision":"(Allow|Deny)","correlation_id":null,"diagnostics":\{'
    r'"reason":\[((?:"policy\d+"(?:,"policy\d+")*)?)\],'
    r'"id_annotations_by_reason":\{[^{}]*\},"errors":\[\]\}')


def evaluate(bundle: PolicyBundle, cedar_requests: list[dict], entities: str) -> list[Verdict]:
    """Evaluate a batch of Cedar requests against the bundle's pre-parsed policy set.

    Calls cedarpy's extension directly: its public wrapper serialises every context again and
    builds three Python objects per answer, which costs more than the policies themselves.
    """
    answers = cedarpy_internal.is_authorized_batch(cedar_requests, bundle.policy_set,
                                                   _parsed_entities(entities), None, False)
    return [_verdict(answer) for answer in answers]


@lru_cache(maxsize=512)
def _parsed_entities(entities: str) -> Any:
    """The entities parsed once per distinct set: the same company asks for the same datasets
    for the same purpose again and again, and parsing them costs as much as the policies."""
    return cedarpy.Entities.from_json_str(entities)._inner


def _verdict(answer: str) -> Verdict:
    match = _ANSWER.match(answer)
    if match:
        policies = match.group(2)
        return match.group(1), policies.replace('"', "").split(",") if policies else [], []
    body = json.loads(answer)
    diagnostics = body.get("diagnostics") or {}
    return (body.get("decision", "NoDecision"), list(diagnostics.get("reason") or []),
            [str(error) for error in diagnostics.get("errors") or []])


def _uid(entities: dict, key: tuple, build, *facts) -> dict:
    """The uid of the entity `key` names, built from `facts` the first time it is named."""
    entity = entities.get(key)
    if entity is None:
        entity = entities[key] = build(str(len(entities)), *facts)
    return entity["uid"]


def _engine_error(detail: str) -> Reason:
    return Reason(ENGINE_ERROR, f"The policy engine could not evaluate the application: {detail}",
                  f"Regelmotoren kunne ikke vurdere ansøgningen: {detail}")


_SEVERITY = {"permit": 0, "review": 1, "deny": 2}
_OUTCOMES = ("permit", "review", "deny")


def _combine(bundle: PolicyBundle, requests: Sequence[DatasetRequest],
             verdicts: list[Verdict]) -> Decision:
    """Deny if any dataset is denied, else review if any needs review, else permit."""
    if not requests:
        reason = Reason(NO_DATASETS, "The application names no dataset.",
                        "Ansøgningen nævner intet datasæt.")
        return Decision("deny", (reason,), bundle.version)
    hits: dict[str, list[int]] = {}  # policy id -> dataset ids
    extra: dict[str, Reason] = {}
    for request, (decision, policies, errors) in zip(requests, verdicts, strict=True):
        if errors or decision not in ("Allow", "Deny"):
            error = _engine_error("; ".join(errors) or "no decision")
            extra.setdefault(error.rule, error)
            continue
        if not policies and decision != "Allow":
            extra.setdefault(NO_PERMIT, _NO_PERMIT)
        for policy in policies:
            hits.setdefault(policy, []).append(request.dataset.id)
    rules = bundle.rules_by_policy
    severity = 2 if extra else max((_SEVERITY[rules[p].outcome] for p in hits), default=0)
    outcome = _OUTCOMES[severity]
    fired = sorted(hits, key=_policy_number) if len(hits) > 1 else hits
    reasons = [_reason(rules[p], tuple(hits[p])) for p in fired if rules[p].outcome == outcome]
    return Decision(outcome, (*reasons, *extra.values()), bundle.version)


_NO_PERMIT = Reason(NO_PERMIT, "No policy permits the application.",
                    "Ingen regel tillader ansøgningen.")


@lru_cache(maxsize=8192)
def _reason(rule: Rule, datasets: tuple[int, ...]) -> Reason:
    return Reason(rule.id, rule.reason, rule.reason_da, datasets)
