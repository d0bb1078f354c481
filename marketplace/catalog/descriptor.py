"""The dataset descriptor as a pydantic model: one definition validates the API body, the browser
form and PATCHed descriptors, and documents the contract in /api/openapi.json (pure: no Flask).

Messages are Danish source text; the edge shows them in the caller's language. Rules that
involve several fields (a range, the subject column, DUO arguments) raise their errors at the
field a client has to fix, so every problem is named at once.
"""
from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from marketplace.catalog import vocabulary as voc
from marketplace.catalog.purposes import load_taxonomy
from marketplace.cpr import contains_cpr, refuse_cpr_in_text
from marketplace.languages import N_

ICD10_CODE = re.compile(r"^D[A-Z][0-9]{2}[0-9A-Z]{0,4}$")
BARE_ICD10_CODE = re.compile(r"^[A-Z][0-9]{2}[0-9A-Z]{0,4}$")
COLUMN_NAME = r"^[A-Za-z][A-Za-z0-9_]{0,62}$"
EMAIL = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"
SPATIAL_CODE = re.compile(r"^(DK|[0-9]{3,4})$")
DUO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
DUO_MODIFIER = re.compile(r"^([A-Za-z]+)(?:[:(]\s*([^)]*?)\s*\)?)?$")
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
ORG_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
USER_SUB = re.compile(r"^[A-Za-z0-9._@|+-]{1,200}$")
PROJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
MAX_TS_MONTHS = 1200
MAX_COLUMNS = 200
K_MIN_RANGE = (2, 1000)
DEFAULT_LEGAL_BASIS = "GDPR art. 6(1)(e) og art. 9(2)(j); EHDS art. 53"

# Fields the server computes from the data; clients may echo them back, they are ignored.
SERVER_FIELDS = frozenset({
    "id", "publisher", "status", "number_of_records", "number_of_unique_individuals",
    "min_typical_age", "max_typical_age", "quality", "created_at", "updated_at",
    "published_at", "current_version", "links", "byte_size",
})
LOCKED_WITH_DATA = ("columns", "subject_column")
# Half of a UTF-16 pair on its own: JSON can carry it, no database or file can store it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def problem(message: str) -> PydanticCustomError:
    """A validation error with a Danish message (translated at the edge)."""
    return PydanticCustomError("descriptor", message)


def raise_at(errors: list[tuple[tuple[str | int, ...], str, Any]], title: str) -> None:
    """Raise the collected errors, each at its own location, as one ValidationError."""
    if errors:
        raise ValidationError.from_exception_data(title, [
            InitErrorDetails(type=problem(message), loc=loc, input=value)
            for loc, message, value in errors])


# --- text ------------------------------------------------------------------------------------

def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise problem("må ikke indeholde NUL-tegn")
    if LONE_SURROGATE.search(value):
        raise problem("skal være gyldig Unicode-tekst")
    if contains_cpr(value):
        raise problem("fjern CPR-numre fra teksten")
    return value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _strip_blanks(value: Any) -> Any:
    if isinstance(value, list):
        return [v.strip() if isinstance(v, str) else v for v in value
                if not (isinstance(v, str) and not v.strip())]
    return value


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


# Text a person typed: stripped, bounded, no NUL, no lone surrogates, no CPR numbers.
Stripped, Clean = BeforeValidator(_strip), AfterValidator(_clean_text)
BlankIsNone = BeforeValidator(_blank_to_none)
# Lists of codes: blanks and duplicates dropped.
Listed, Unique = BeforeValidator(_strip_blanks), AfterValidator(_unique)

Code = Annotated[str, Field(max_length=200), Clean]
Keyword = Annotated[str, Field(min_length=1, max_length=80), Stripped, Clean]
Name = Annotated[Annotated[str, Field(max_length=200), Stripped, Clean] | None, BlankIsNone]
Email = Annotated[Annotated[str, Field(max_length=200, pattern=EMAIL), Stripped, Clean] | None,
                  BlankIsNone]
Url = Annotated[Annotated[str, Field(max_length=500, pattern=r"^https?://"), Stripped, Clean]
                | None, BlankIsNone]
ColumnDescription = Annotated[Annotated[str, Field(max_length=1000), Stripped, Clean] | None,
                              BlankIsNone]


if TYPE_CHECKING:  # the codes are data (vocabulary); a type checker sees text
    Theme: TypeAlias = str
    HealthCategory: TypeAlias = str
else:
    Theme = Literal[tuple(voc.THEMES)]
    HealthCategory = Literal[tuple(voc.HEALTH_CATEGORIES)]


def normalise_icd10(code: Any) -> str | None:
    """Return the SKS form ("DJ44") of an ICD-10 code, or None when it is not one."""
    if not isinstance(code, str):
        return None
    code = code.strip().upper().replace(".", "")
    if BARE_ICD10_CODE.match(code):
        code = "D" + code
    return code if ICD10_CODE.match(code) else None


def _icd10(code: str) -> str:
    normal = normalise_icd10(code)
    if normal is None:
        raise problem("er ikke en ICD-10-kode")
    return normal


def _spatial(code: str) -> str:
    if not SPATIAL_CODE.match(code) or (len(code) == 3 and code not in voc.MUNICIPALITY_CODES) \
            or (len(code) == 4 and code not in voc.REGION_CODES):
        raise problem(N_("er ikke en dansk kommunekode, regionskode eller DK"))
    return code


def _purpose(code: str) -> str:
    purpose = load_taxonomy().get(code)
    if purpose is None:
        raise problem("ukendt formål; se /api/v1/purposes")
    if purpose.prohibited:
        raise problem(N_("formålet er forbudt"))
    return code


class Model(BaseModel):
    """Descriptor parts: unknown fields are refused so that a typo is never silently lost, and
    no field takes a CPR number (a descriptor is public once published)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_cpr(cls, value: Any) -> Any:
        return refuse_cpr_in_text(value)


# --- conditions of use (GA4GH DUO) -------------------------------------------------------------

MODIFIER_HINTS = {
    "TS": N_("TS tager et antal måneder fra 1 til 1200, f.eks. TS:12"),
    "GS": N_("GS tager landekoder eller EU, EEA, NORDIC, f.eks. GS:EU eller GS:DK,SE"),
    "IS": N_("IS tager organisationers korte navne, f.eks. IS:herlev-hospital,rigshospitalet"),
    "US": N_("US tager brugeres login-id, f.eks. US:company-pulmo"),
    "PS": N_("PS tager et projekt-id (bogstaver, cifre og . _ / -)"),
    "MOR": N_("MOR tager en dato skrevet ÅÅÅÅ-MM-DD, f.eks. MOR:2027-06-01"),
}


def _modifier_argument(code: str, argument: str) -> str | None:
    """The normal form of a modifier's argument, or None when it is malformed."""
    if code == "TS":
        return str(int(argument)) if argument.isdigit() and 1 <= int(
            argument) <= MAX_TS_MONTHS else None
    if code == "MOR":
        try:
            return date.fromisoformat(argument).isoformat() if DUO_DATE.match(argument) else None
        except ValueError:
            return None
    if code == "PS":
        return argument if PROJECT_ID.match(argument) else None
    items = [item for item in re.split(r"[\s,;]+", argument) if item]
    if code == "GS":
        items = [item.upper() for item in items]
        valid = all(i in voc.DUO_REGIONS or COUNTRY_CODE.match(i) for i in items)
    elif code == "IS":
        items = [item.lower() for item in items]
        valid = all(ORG_SLUG.match(i) for i in items)
    else:
        valid = all(USER_SUB.match(i) for i in items)
    return ",".join(dict.fromkeys(items)) if items and valid and len(items) <= 50 else None


def _modifiers(raw: list[str]) -> list[str]:
    """DUO modifiers as "CODE" or "CODE:argument" (also read "CODE(argument)")."""
    clean: dict[str, str] = {}
    errors: list[tuple[tuple[str | int, ...], str, Any]] = []
    for index, text in enumerate(raw):
        match = DUO_MODIFIER.match(text)
        code = match.group(1).upper() if match else text
        if not match or code not in voc.DUO_MODIFIERS:
            errors.append(((index,), N_("ukendt DUO-modifikator"), text))
        elif code in clean:
            errors.append(((index,), N_("DUO-modifikatoren er angivet to gange"), text))
        elif not match.group(2):
            clean[code] = code
        elif code not in voc.DUO_MODIFIER_ARGUMENTS:
            errors.append(((index,), N_("DUO-modifikatoren tager intet argument"), text))
        elif (normal := _modifier_argument(code, match.group(2))) is None:
            errors.append(((index,), MODIFIER_HINTS[code], text))
        else:
            clean[code] = f"{code}:{normal}"
    raise_at(errors, "modifiers")
    return list(clean.values())


class DataUse(Model):
    """The conditions of use: a DUO permission, ICD-10 diseases for DS, DUO modifiers."""

    permission: Literal[voc.DUO_PERMISSIONS]  # type: ignore[valid-type]
    diseases: Annotated[list[Annotated[Code, AfterValidator(_icd10)]], Field(max_length=50),
                        Listed, Unique] = []
    modifiers: Annotated[list[Code], Field(max_length=50), Listed, Unique,
                         AfterValidator(_modifiers)] = []
    purposes: Annotated[list[Annotated[Code, AfterValidator(_purpose)]], Field(max_length=50),
                        Listed, Unique] | None = None

    @model_validator(mode="after")
    def _diseases_for_ds_only(self) -> DataUse:
        self.diseases = _unique(self.diseases)
        if self.permission == "DS" and not self.diseases:
            raise_at([(("diseases",), N_("DS (sygdomsspecifik) kræver mindst én sygdom"), [])],
                     "data_use")
        if self.permission != "DS" and self.diseases:
            raise_at([(("diseases",), N_("sygdomme gælder kun tilladelsen DS"), self.diseases)],
                     "data_use")
        return self

    def stored(self) -> dict[str, Any]:
        clean: dict[str, Any] = {"permission": self.permission, "diseases": self.diseases,
                                 "modifiers": self.modifiers}
        if self.purposes is not None:
            clean["purposes"] = self.purposes
        return clean


# --- time, place and contact -------------------------------------------------------------------

def _iso_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    try:
        if isinstance(value, str) and DUO_DATE.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise problem("skal være en dato (ÅÅÅÅ-MM-DD)")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class Temporal(Model):
    start: IsoDate | None = None
    end: IsoDate | None = None

    @model_validator(mode="after")
    def _in_order(self) -> Temporal:
        if self.start and self.end and self.start > self.end:
            raise problem(N_("startdatoen ligger efter slutdatoen"))
        return self

    def stored(self) -> dict[str, str | None]:
        return {"start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None}


class ContactPoint(Model):
    name: Name = None
    email: Email = None
    url: Url = None

    @model_validator(mode="before")
    @classmethod
    def _an_address_alone(cls, value: Any) -> Any:
        return {"email": value} if isinstance(value, str) else value


# --- the column dictionary ---------------------------------------------------------------------

class AgeBand(Model):
    kind: Literal["age_band"]
    width: StrictInt = Field(ge=1, le=50)


class DateRule(Model):
    kind: Literal["date"]
    to: Literal["year", "quarter", "month", "week", "shift"]
    max_days: StrictInt | None = Field(None, ge=1, le=365)

    @model_validator(mode="after")
    def _bound_for_shift_only(self) -> DateRule:
        if self.max_days is not None and self.to != "shift":
            raise_at([(("max_days",), N_("max_days gælder kun datoforskydning (to: shift)"),
                       self.max_days)], "generalise")
        return self


class PostcodeRule(Model):
    kind: Literal["postcode"]
    to: Literal["municipality", "region"]


class Truncate(Model):
    kind: Literal["truncate"]
    chars: StrictInt = Field(ge=1, le=50)


GENERALISE_RULES: dict[str, type[Model]] = {
    "age_band": AgeBand, "date": DateRule, "postcode": PostcodeRule, "truncate": Truncate}
Generalisation = AgeBand | DateRule | PostcodeRule | Truncate


def _generalise(value: Any) -> Any:
    """Pick the rule by its kind, so that errors name the option, not the union member."""
    if isinstance(value, Model):
        return value
    kind = value.get("kind") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in GENERALISE_RULES:
        raise problem(N_("ukendt generalisering; brug age_band, date, postcode eller truncate"))
    return GENERALISE_RULES[kind].model_validate(value)


Bound = Annotated[StrictInt | StrictFloat | StrictStr, Field(union_mode="left_to_right")]


class Column(Model):
    """One column of the data dictionary, with its role in disclosure control."""

    name: Annotated[str, Field(pattern=COLUMN_NAME)]
    type: Literal[voc.COLUMN_TYPES]  # type: ignore[valid-type]
    role: Literal[voc.COLUMN_ROLES] = "attribute"  # type: ignore[valid-type]
    identifier_kind: Literal[voc.IDENTIFIER_KINDS] | None = None  # type: ignore[valid-type]
    generalise: Annotated[Generalisation | None, BeforeValidator(
        lambda v: None if v is None else _generalise(v))] = None
    allowed_values: Annotated[list[Annotated[Code, Field(min_length=1)]], Field(max_length=5000),
                              Listed, Unique] | None = None
    minimum: Bound | None = None
    maximum: Bound | None = None
    pattern: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: ColumnDescription = None
    shareable: StrictBool | None = None
    required: StrictBool = False
    unique: StrictBool = False
    concept: Literal[voc.CONCEPTS] | None = None  # type: ignore[valid-type]
    code_system: Literal[voc.CODE_SYSTEMS] | None = None  # type: ignore[valid-type]
    l_diversity: StrictInt | None = Field(None, ge=2, le=100)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise problem(N_("er ikke et gyldigt regulært udtryk")) from exc
            _clean_text(value)
        return value

    @model_validator(mode="after")
    def _fits_its_role(self) -> Column:
        errors: list[tuple[tuple[str | int, ...], str, Any]] = []
        if self.role == "direct_identifier":
            if self.identifier_kind is None:
                errors.append((("identifier_kind",), N_("en direkte identifikator skal have en "
                               "identifikatortype"), None))
        elif self.identifier_kind is not None:
            errors.append((("identifier_kind",), N_("kun direkte identifikatorer har en "
                           "identifikatortype"), self.identifier_kind))
        if self.generalise is not None and self.role != "quasi_identifier":
            errors.append((("generalise",), N_("kun kvasi-identifikatorer har en generalisering"),
                           None))
        if self.l_diversity is not None and self.role != "sensitive":
            errors.append((("l_diversity",), N_("kun følsomme kolonner har en l-diversitet"),
                           self.l_diversity))
        if self.allowed_values is not None and not self.allowed_values:
            errors.append((("allowed_values",),
                           N_("angiv mindst én værdi, eller udelad feltet"), []))
        errors += self._bounds()
        raise_at(errors, "column")
        if self.shareable is None:
            self.shareable = self.role != "direct_identifier"
        return self

    def _bounds(self) -> list[tuple[tuple[str | int, ...], str, Any]]:
        if self.minimum is None and self.maximum is None:
            return []
        if self.type not in ("integer", "number", "date"):
            return [(("minimum",), N_("kun heltals-, tal- og datokolonner har et interval"),
                     self.minimum)]
        errors: list[tuple[tuple[str | int, ...], str, Any]] = []
        parsed: dict[str, Any] = {}
        for name in ("minimum", "maximum"):
            value = getattr(self, name)
            if value is None:
                continue
            if self.type == "date":
                try:
                    parsed[name] = date.fromisoformat(value) if isinstance(value, str) \
                        and DUO_DATE.match(value) else None
                except ValueError:
                    parsed[name] = None
                message = N_("skal være en dato (ÅÅÅÅ-MM-DD)")
            else:
                whole = self.type == "integer"
                ok = isinstance(value, int) if whole else isinstance(value, int | float)
                parsed[name] = value if ok and abs(value) <= 1e15 else None
                message = "skal være et helt tal" if whole else N_("skal være et tal")
            if parsed[name] is None:
                errors.append(((name,), message, value))
        if not errors and len(parsed) == 2 and parsed["minimum"] > parsed["maximum"]:
            errors.append((("minimum",), N_("minimum er større end maksimum"), self.minimum))
        return errors

    def stored(self) -> dict[str, Any]:
        """The column as the catalog stores it (options only where they apply)."""
        column: dict[str, Any] = {
            "name": self.name, "type": self.type, "role": self.role,
            "description": self.description, "shareable": self.shareable,
            "required": self.required, "unique": self.unique}
        if self.role == "direct_identifier":
            column["identifier_kind"] = self.identifier_kind
        if self.generalise is not None:
            column["generalise"] = self.generalise.model_dump(exclude_none=True)
        for name in ("concept", "code_system", "l_diversity", "allowed_values", "pattern",
                     "minimum", "maximum"):
            if (value := getattr(self, name)) is not None:
                column[name] = value
        return column


# --- the descriptor ----------------------------------------------------------------------------

Title = Annotated[str, Field(min_length=1, max_length=300), Stripped, Clean]
TitleEn = Annotated[Annotated[str, Field(max_length=300), Stripped, Clean] | None, BlankIsNone]
Description = Annotated[str, Field(min_length=1, max_length=10_000), Stripped, Clean]
DescriptionEn = Annotated[Annotated[str, Field(max_length=10_000), Stripped, Clean] | None,
                          BlankIsNone]
Keywords = Annotated[list[Keyword], Field(max_length=50), Listed, Unique]
Themes = Annotated[list[Theme], Field(min_length=1, max_length=50), Listed, Unique]
HealthCategories = Annotated[list[HealthCategory], Field(min_length=1, max_length=50), Listed,
                             Unique]
AccessRights = Literal[voc.ACCESS_RIGHTS]  # type: ignore[valid-type]
LegalBasis = Annotated[str, Field(min_length=1, max_length=500), Stripped, Clean]
ConsentModel = Literal[voc.CONSENT_MODELS]  # type: ignore[valid-type]
Spatial = Annotated[list[Annotated[Code, AfterValidator(_spatial)]], Field(max_length=120),
                    Listed, Unique]
KMin = Annotated[StrictInt, Field(ge=K_MIN_RANGE[0], le=K_MIN_RANGE[1])]
SubjectColumn = Annotated[str, Field(max_length=63)]
Columns = Annotated[list[Column], Field(max_length=MAX_COLUMNS)]


class _IgnoresServerFields(Model):
    @model_validator(mode="before")
    @classmethod
    def _ignore_server_fields(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k not in SERVER_FIELDS}
        return value


class Descriptor(_IgnoresServerFields):
    """A dataset descriptor (ARCHITECTURE.md 4.4); server-computed fields are ignored."""

    title: Title
    title_en: TitleEn = None
    description: Description
    description_en: DescriptionEn = None
    keywords: Keywords = []
    themes: Themes = ["HEAL"]
    health_categories: HealthCategories
    access_rights: AccessRights = "NON_PUBLIC"
    legal_basis: LegalBasis = DEFAULT_LEGAL_BASIS
    consent_model: ConsentModel = "opt_out"
    data_use: DataUse = DataUse(permission="GRU")
    spatial: Spatial = []
    temporal: Temporal | None = None
    contact_point: ContactPoint | None = None
    k_min: KMin = 5
    subject_column: SubjectColumn | None = None
    columns: Columns = []

    @model_validator(mode="after")
    def _columns_fit_together(self) -> Descriptor:
        errors: list[tuple[tuple[str | int, ...], str, Any]] = []
        seen: set[str] = set()
        for index, column in enumerate(self.columns):
            if column.name.lower() in seen:
                errors.append((("columns", index, "name"), N_("kolonnenavnet findes allerede"),
                               column.name))
            seen.add(column.name.lower())
        subject = next((c for c in self.columns if c.name == self.subject_column), None)
        if self.subject_column is None:
            # Without it consent could not be checked and k would count rows, not people.
            if any(c.identifier_kind == "cpr" for c in self.columns):
                errors.append((("subject_column",), N_("et datasæt med en CPR-kolonne skal "
                               "angive den som personkolonne"), None))
        elif subject is None:
            errors.append((("subject_column",), N_("er ikke en af kolonnerne"),
                           self.subject_column))
        elif subject.identifier_kind != "cpr":
            errors.append((("subject_column",), N_("personkolonnen skal være en direkte "
                           "identifikator af typen cpr"), self.subject_column))
        raise_at(errors, "descriptor")
        return self

    def stored(self) -> dict[str, Any]:
        """The descriptor as the catalog stores it (plain JSON values)."""
        return {
            "title": self.title, "title_en": self.title_en, "description": self.description,
            "description_en": self.description_en, "keywords": self.keywords,
            "themes": self.themes, "health_categories": self.health_categories,
            "access_rights": self.access_rights, "legal_basis": self.legal_basis,
            "consent_model": self.consent_model, "data_use": self.data_use.stored(),
            "spatial": self.spatial,
            "temporal": self.temporal.stored() if self.temporal else None,
            "contact_point": self.contact_point.model_dump() if self.contact_point else None,
            "k_min": self.k_min, "subject_column": self.subject_column,
            "columns": [column.stored() for column in self.columns],
        }


class DescriptorChanges(_IgnoresServerFields):
    """The fields of a descriptor to change (PATCH); the result is validated as a whole."""

    title: Title | None = None
    title_en: TitleEn = None
    description: Description | None = None
    description_en: DescriptionEn = None
    keywords: Keywords | None = None
    themes: Themes | None = None
    health_categories: HealthCategories | None = None
    access_rights: AccessRights | None = None
    legal_basis: LegalBasis | None = None
    consent_model: ConsentModel | None = None
    data_use: DataUse | None = None
    spatial: Spatial | None = None
    temporal: Temporal | None = None
    contact_point: ContactPoint | None = None
    k_min: KMin | None = None
    subject_column: SubjectColumn | None = None
    columns: Columns | None = None

    def stored(self) -> dict[str, Any]:
        """The changed fields in the stored form (only those the client sent)."""
        sent = self.model_fields_set
        full = {name: getattr(self, name) for name in sent}
        for name, value in full.items():
            if isinstance(value, BaseModel) and hasattr(value, "stored"):
                full[name] = value.stored()
            elif isinstance(value, BaseModel):
                full[name] = value.model_dump()
            elif name == "columns" and value is not None:
                full[name] = [column.stored() for column in value]
        return full


EDITABLE_FIELDS = tuple(Descriptor.model_fields)
DEFAULTS: dict[str, Any] = Descriptor(
    title="-", description="-", health_categories=["EHR"]).stored() | {
    "title": "", "description": "", "health_categories": []}


def merge_changes(stored: dict[str, Any], changes: DescriptorChanges) -> Descriptor:
    """Lay the changed fields over the stored descriptor and validate the result as a whole.

    Raises pydantic's ValidationError naming each field.
    """
    return Descriptor.model_validate(stored | changes.stored())
