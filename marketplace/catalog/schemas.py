"""What the catalog API reads and answers: path, query and response models.

Request bodies are the descriptor models of `catalog.descriptor` (the browser form validates
through them too); a raw data upload is documented by `DataUpload`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from flask_openapi3 import RawModel
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from marketplace.catalog import vocabulary as voc
from marketplace.catalog.descriptor import Clean, Descriptor, Stripped
from marketplace.catalog.search import MAX_PER_PAGE, MAX_QUERY, SearchQuery
from marketplace.web.api import MAX_PAGE, Id, Out
from marketplace.web.requests import QueryModel


class DatasetPath(BaseModel):
    dataset_id: Id


def _comma_separated(value: Any) -> Any:
    """`?theme=HEAL,SOCI` and `?theme=HEAL&theme=SOCI` mean the same."""
    items = value if isinstance(value, list) else [value]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


Separated = BeforeValidator(_comma_separated)
Level = Literal["national", "regional", "municipal"]
if TYPE_CHECKING:  # the codes are data (vocabulary); a type checker sees text
    Theme: TypeAlias = str
    HealthCategory: TypeAlias = str
else:
    Theme = Literal[tuple(voc.THEMES)]
    HealthCategory = Literal[tuple(voc.HEALTH_CATEGORIES)]
if TYPE_CHECKING:
    AccessRights: TypeAlias = str
else:
    AccessRights = Literal[tuple(voc.ACCESS_RIGHTS)]
SearchText = Annotated[str, Field(max_length=MAX_QUERY), Stripped, Clean]
PublisherSlug = Annotated[str, Field(max_length=80), Stripped, Clean]


class DatasetSearch(QueryModel):
    """Full-text search over the published catalog, with facet filters and paging."""

    model_config = ConfigDict(extra="ignore")
    q: SearchText = ""
    publisher_level: Annotated[list[Level], Separated, Field(max_length=50)] = Field(
        default_factory=list)
    theme: Annotated[list[Theme], Separated, Field(max_length=50)] = Field(
        default_factory=list)
    health_category: Annotated[list[HealthCategory], Separated, Field(max_length=50)] = Field(
        default_factory=list)
    access_rights: Annotated[list[AccessRights], Separated, Field(max_length=50)] = Field(
        default_factory=list)
    publisher: PublisherSlug | None = None
    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(20, ge=1, le=MAX_PER_PAGE)
    sort: Literal["relevance", "title", "newest"] = "relevance"

    def to_search(self) -> SearchQuery:
        return SearchQuery(
            q=self.q, publisher_level=tuple(dict.fromkeys(self.publisher_level)),
            theme=tuple(dict.fromkeys(self.theme)),
            health_category=tuple(dict.fromkeys(self.health_category)),
            access_rights=tuple(dict.fromkeys(self.access_rights)),
            publisher=self.publisher or None, page=self.page, per_page=self.per_page,
            sort=self.sort)


class QualityQuery(QueryModel):
    model_config = ConfigDict(extra="ignore")
    version: Id | None = None


class DataUpload(RawModel):
    """A data version as the request body: CSV or Parquet, validated against the columns."""

    mimetypes: list[str] = ["text/csv", "application/vnd.apache.parquet",  # noqa: RUF012
                            "multipart/form-data"]


# --- responses ------------------------------------------------------------------------------

class Publisher(Out):
    slug: str
    name: str
    level: str | None
    homepage: str | None
    email: str | None


class QualityLink(Out):
    url: str
    valid_data: bool


class DatasetOut(Descriptor):
    """A descriptor as the API shows it: the editable fields and the server-computed facts."""

    model_config = ConfigDict(extra="allow")
    id: int
    publisher: Publisher
    status: Literal[voc.STATUSES]  # type: ignore[valid-type]
    number_of_records: int | None
    number_of_unique_individuals: int | None
    min_typical_age: int | None
    max_typical_age: int | None
    quality: QualityLink
    created_at: str | None
    updated_at: str | None
    published_at: str | None


class DatasetPage(Out):
    items: list[DatasetOut]
    total: int
    page: int
    per_page: int
    facets: dict[str, dict[str, int]]


class DataVersionOut(Out):
    dataset_id: int
    version: int
    valid: bool
    created_at: str | None
    media_type: str
    byte_size: int
    number_of_rows: int | None
    sha256: str | None
    report: dict[str, Any]
