"""What a citizen or the operator asks the consent domain to do, as validated commands (pure).

The API bodies are these models, the consent page builds them from its form, and the services
take them; messages are Danish source text, shown in the caller's language at the edge.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from marketplace.catalog.descriptor import LONE_SURROGATE, raise_at
from marketplace.catalog.purposes import load_taxonomy
from marketplace.consent.evaluation import SCOPE_ALL
from marketplace.languages import N_

MAX_ID = 2**31 - 1


def _clean(value: str) -> str:
    if "\x00" in value or LONE_SURROGATE.search(value):
        raise PydanticCustomError("text", "skal være gyldig Unicode-tekst uden NUL-tegn")
    return value


def _selectable_purpose(code: str) -> str:
    taxonomy = load_taxonomy()
    purpose = taxonomy.get(code)
    if purpose is None:
        raise PydanticCustomError("purpose", "ukendt formål; se /api/v1/purposes")
    if purpose.prohibited:
        raise PydanticCustomError("purpose", "denne brug er forbudt og kan aldrig tillades")
    return code


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsentScope(Command):
    """Whom a choice is about: all data holders, one holder (organisation id) or one dataset."""

    type: Literal["all", "holder", "dataset"] = "all"
    id: Annotated[StrictInt, Field(ge=1, le=MAX_ID)] | None = None

    @model_validator(mode="after")
    def _id_fits_the_type(self) -> ConsentScope:
        message = (N_("et valg for alle dataholdere har intet id")
                   if self.type == SCOPE_ALL and self.id is not None else
                   N_("angiv id på dataholderen eller datasættet")
                   if self.type != SCOPE_ALL and self.id is None else None)
        if message:
            raise_at([(("id",), message, self.id)], "scope")
        return self


class ConsentChoice(Command):
    """Permit, deny or clear one purpose for a scope."""

    scope: ConsentScope = ConsentScope()
    purpose: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_clean),
                       AfterValidator(_selectable_purpose)]
    decision: Literal["permit", "deny", "clear"]


class ActingFor(Command):
    """Act for one of one's children under 15 (their citizen id), or for oneself (null)."""

    citizen_id: Annotated[StrictInt, Field(ge=1, le=MAX_ID)] | None = None


CprText = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_clean)]


class GuardianshipRegistration(Command):
    """The operator's registration of a parent's custody of a child under 15."""

    guardian_cpr: CprText
    child_cpr: CprText
