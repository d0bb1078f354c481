"""Database models of the catalog domain: descriptors, their data versions and facet tags."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, JSONValue, UTCDateTime, created_at, intpk, utcnow
from marketplace.identity.models import Organisation


class Dataset(Base):
    """A HealthDCAT-AP descriptor of one dataset held by a data holder."""

    __tablename__ = "dataset"

    id: Mapped[intpk]
    publisher_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="draft", index=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    title_en: Mapped[str | None] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text)
    description_en: Mapped[str | None] = mapped_column(sa.Text)
    keywords: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    themes: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    health_categories: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    access_rights: Mapped[str] = mapped_column(sa.String(20), index=True)
    legal_basis: Mapped[str] = mapped_column(sa.String(500))
    consent_model: Mapped[str] = mapped_column(sa.String(10))
    data_use: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    spatial: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    temporal: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    contact_point: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    k_min: Mapped[int] = mapped_column(default=5)
    subject_column: Mapped[str | None] = mapped_column(sa.String(63))
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue, default=list)
    # Lower-cased Danish and English text the catalog search matches against.
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    number_of_records: Mapped[int | None]
    number_of_unique_individuals: Mapped[int | None]
    min_typical_age: Mapped[int | None]
    max_typical_age: Mapped[int | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    publisher: Mapped[Organisation] = relationship(lazy="joined")
    tags: Mapped[list[DatasetTag]] = relationship(cascade="all, delete-orphan",
                                                  back_populates="dataset")


class DatasetTag(Base):
    """One facet value of a dataset (a theme or a health category), for fast facet counts."""

    __tablename__ = "dataset_tag"
    __table_args__ = (sa.Index("ix_dataset_tag_facet_code", "facet", "code"),)

    id: Mapped[intpk]
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"),
                                            index=True)
    facet: Mapped[str] = mapped_column(sa.String(20))
    code: Mapped[str] = mapped_column(sa.String(40))

    dataset: Mapped[Dataset] = relationship(back_populates="tags")


class DataVersion(Base):
    """One uploaded data version: valid ones are stored encrypted, invalid ones keep the report."""

    __tablename__ = "data_version"
    __table_args__ = (sa.UniqueConstraint("dataset_id", "number",
                                          name="uq_data_version_dataset_id_number"),
                      sa.UniqueConstraint("dataset_id", "upload_token",
                                          name="uq_data_version_dataset_id_upload_token"))

    id: Mapped[intpk]
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("dataset.id"), index=True)
    number: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(20))  # valid | invalid
    media_type: Mapped[str] = mapped_column(sa.String(60))
    byte_size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    path: Mapped[str | None] = mapped_column(sa.String(300))
    number_of_rows: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    uploaded_by: Mapped[str] = mapped_column(sa.String(200), default="")
    # The upload form's (or the client's Idempotency-Key) token: sending the same upload twice
    # answers with the version it stored the first time.
    upload_token: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[created_at]

    @property
    def is_valid(self) -> bool:
        return self.status == "valid"
