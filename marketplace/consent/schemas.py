"""What the consent API reads and answers. Request bodies are the commands of
`consent.commands`; the models here describe paths, queries and responses."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from marketplace.web.api import Id, Out
from marketplace.web.requests import QueryModel


class GuardianshipPath(BaseModel):
    guardianship_id: Id


class ReceiptQuery(QueryModel):
    """`?download=1` asks the browser to save the receipt as a file."""

    model_config = ConfigDict(extra="ignore")
    download: Literal["1", "true", "0", "false", ""] | None = None

    @property
    def as_file(self) -> bool:
        return self.download in ("1", "true")


class TaxonomyPurposeOut(Out):
    code: str
    label_da: str
    label_en: str
    description_da: str
    description_en: str
    ehds_article: str
    duo: str | None
    commercial: bool
    public_bodies_only: bool
    prohibited: bool


class PurposeList(RootModel[list[TaxonomyPurposeOut]]):
    pass


class ScopeOut(Out):
    type: Literal["all", "holder", "dataset"]
    id: int | None


class ChoiceOut(Out):
    scope: ScopeOut
    purpose: str
    decision: Literal["permit", "deny"]
    at: str
    notice_version: str
    acted_by: Literal["self", "guardian"]


class ConsentsOut(Out):
    citizen_id: int
    opt_out: bool
    opt_out_since: str | None
    choices: list[ChoiceOut]


class EventOut(Out):
    id: int
    at: str
    decision: Literal["permit", "deny", "clear", "opt_out", "opt_out_withdrawn"]
    scope: ScopeOut
    purpose: str | None
    notice_version: str
    channel: str
    acted_by: Literal["self", "guardian"]


class EventList(RootModel[list[EventOut]]):
    pass


class DatasetRef(Out):
    id: int
    title: str


class OrgRef(Out):
    slug: str
    name: str


class CompanyRef(OrgRef):
    country: str | None


class DataUseOut(Out):
    extract_id: int | None = Field(description="the extract, or null for analysis in the "
                                               "permit's secure processing environment")
    job_id: int | None = Field(None, description="the first workspace job that analysed it")
    permit_id: int
    dataset: DatasetRef
    holder: OrgRef
    company: CompanyRef
    purpose: str
    at: str


class DataUseList(RootModel[list[DataUseOut]]):
    pass


class Ward(Out):
    citizen_id: int
    name: str
    birth_date: str


class WardsOut(Out):
    acting_for_citizen_id: int | None
    children: list[Ward]


class ActingForOut(Out):
    acting_for_citizen_id: int | None


class GuardianshipOut(Out):
    id: int
    guardian_citizen_id: int
    child_citizen_id: int
    source: Literal["claim", "operator"]
    created_at: str
    ended_at: str | None
