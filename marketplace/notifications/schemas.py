"""Request and response models of the notifications API."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from marketplace.web.api import Body, Id, Out
from marketplace.web.requests import QueryModel

MAX_TOPICS = 50


class NotificationPath(BaseModel):
    notification_id: Id


class InboxQuery(QueryModel):
    """Paging of the inbox; `unread=true` lists only what is unread."""

    model_config = ConfigDict(extra="ignore")
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=1, le=200)
    unread: bool = False


class NotificationOut(Out):
    id: int
    kind: str
    topic: str
    title: str
    text: str
    link: str
    created_at: datetime
    read: bool


class InboxOut(Out):
    items: list[NotificationOut]
    total: int
    unread: int
    page: int
    per_page: int


class MarkedOut(Out):
    marked: int


class TopicChoice(Out):
    key: str
    label: str
    inbox: bool
    email: bool


class ChoicesOut(Out):
    language: str
    topics: list[TopicChoice]


class ChoicesIn(Body):
    """Which topics reach the inbox and mail (topics left out keep their choice), and the
    language of mail (`da` or `en`)."""

    language: str = Field("da", max_length=2)
    inbox: dict[str, StrictBool] = Field(default_factory=dict, max_length=MAX_TOPICS)
    email: dict[str, StrictBool] = Field(default_factory=dict, max_length=MAX_TOPICS)
