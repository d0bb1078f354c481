"""Handing a finished extract to its company: verified before any byte, as Parquet or CSV.

Also the extract's signed manifest and the public key that verifies it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from sqlalchemy.orm import Session

from marketplace import audit, streams
from marketplace.access import services as access_services
from marketplace.delivery import output
from marketplace.delivery.extract_jobs import extract_context
from marketplace.delivery.extracts import (
    require_downloadable_permit,
    require_visible_extract,
)
from marketplace.delivery.models import Extract
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.identity.principal import Principal
from marketplace.languages import N_
from marketplace.security import Keyring


def _require_downloadable(session: Session, *, actor: Principal, extract_id: int,
                          now: datetime) -> Extract:
    extract = require_visible_extract(session, extract_id=extract_id, actor=actor)
    if not actor.belongs_to(extract.company_org_id):  # the operator sees it, but may not take it
        raise Forbidden("kun virksomheden med tilladelsen kan hente dens udtræk")
    permit = access_services.require_usable_permit(session, permit_id=extract.permit_id,
                                                   actor=actor, now=now)
    require_downloadable_permit(permit)
    if extract.status != "succeeded" or not extract.path:
        raise Conflict("udtrækket er ikke klar endnu")
    return extract


@dataclass(frozen=True)
class StoredExtract:
    """Where an extract's file is and what its manifest says it holds (no database needed, so
    a response can stream it after the transaction has ended)."""

    path: Path
    context: str
    sha256: str | None

    @classmethod
    def of(cls, extract: Extract, *, data_dir: Path) -> StoredExtract:
        return cls(path=data_dir / (extract.path or ""), context=extract_context(extract.id),
                   sha256=(extract.manifest or {}).get("sha256"))


def verify_extract(stored: StoredExtract, *, keyring: Keyring) -> None:
    """Check the stored extract against its signed manifest in one streaming pass (nothing is
    kept); raise Invalid when it was altered, truncated or swapped."""
    digest = hashlib.sha256()
    for segment in keyring.read_encrypted(stored.path, context=stored.context):
        digest.update(segment)
    if digest.hexdigest() != stored.sha256:
        raise Invalid("det gemte udtræk passer ikke med dets manifest")


def stream_extract_parquet(stored: StoredExtract, *, keyring: Keyring) -> Iterator[bytes]:
    """The verified extract's Parquet, segment by segment; it is hashed again on the way, and a
    file changed since `verify_extract` stops the stream (with Invalid) before its end."""
    digest = hashlib.sha256()
    pending: bytes | None = None
    for segment in keyring.read_encrypted(stored.path, context=stored.context):
        digest.update(segment)
        if pending is not None:
            yield pending
        pending = segment
    if digest.hexdigest() != stored.sha256:
        raise Invalid("det gemte udtræk ændrede sig, mens det blev sendt")
    if pending:
        yield pending


def read_extract_parquet(stored: StoredExtract, *, keyring: Keyring) -> pa.Buffer:
    """The whole verified Parquet file in one buffer (for the CSV conversion, which needs the
    Parquet footer first); raise Invalid when it does not match its manifest."""
    return streams.gather(stream_extract_parquet(stored, keyring=keyring),
                          capacity=stored.path.stat().st_size)


@dataclass(frozen=True)
class Download:
    extract: Extract
    media_type: str
    filename: str
    body: Iterator[bytes]


def download_extract(session: Session, *, actor: Principal, extract_id: int, fmt: str,
                     keyring: Keyring, data_dir: Path, now: datetime) -> Download:
    """Hand the extract to its company while the permit is valid, verified before any byte.

    Raises NotFound, Forbidden, Conflict (permit expired or revoked, extract not ready),
    Invalid (unknown format, or a stored file that was tampered with).
    """
    if fmt not in ("parquet", "csv"):
        raise Invalid.field("format", N_("formatet skal være parquet eller csv"))
    extract = _require_downloadable(session, actor=actor, extract_id=extract_id, now=now)
    stored = StoredExtract.of(extract, data_dir=data_dir)
    verify_extract(stored, keyring=keyring)
    audit.record_audit(
        session, actor=actor, action="extract.downloaded", subject_type="extract",
        subject_id=str(extract.id), details={"format": fmt})
    stem = f"extract-{extract.id}-permit-{extract.permit_id}-dataset-{extract.dataset_id}"
    if fmt == "csv":
        return Download(extract, "text/csv; charset=utf-8", f"{stem}.csv",
                        _csv_body(stored, keyring=keyring))
    return Download(extract, "application/vnd.apache.parquet", f"{stem}.parquet",
                    stream_extract_parquet(stored, keyring=keyring))


def _csv_body(stored: StoredExtract, *, keyring: Keyring) -> Iterator[bytes]:
    # A generator, so the file is read only when the response is sent.
    yield from output.parquet_to_csv(read_extract_parquet(stored, keyring=keyring))


def extract_manifest(session: Session, *, actor: Principal, extract_id: int) -> dict:
    """The signed manifest of a finished extract; raise Conflict while it is not ready."""
    extract = require_visible_extract(session, extract_id=extract_id, actor=actor)
    if extract.status != "succeeded" or extract.manifest is None:
        raise Conflict("udtrækket er ikke klar endnu")
    return extract.manifest


def signing_key(keyring: Keyring) -> dict:
    """The public key that verifies extract manifests."""
    raw = keyring.public_key_b64
    return {
        "algorithm": "Ed25519",
        "public_key": raw,
        "key_id": hashlib.sha256(raw.encode()).hexdigest()[:16],
        "signed_form": "the manifest without 'signature', JSON with sorted keys and separators "
                       "(',', ':'), UTF-8",
    }
