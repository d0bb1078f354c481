"""Business rules of the catalog domain: descriptors, data versions, search and export."""
from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from marketplace import leftovers
from marketplace.catalog import dcat, ingest
from marketplace.catalog.descriptor import (
    LOCKED_WITH_DATA,
    Descriptor,
    DescriptorChanges,
    merge_changes,
)
from marketplace.catalog.models import Dataset, DatasetTag, DataVersion
from marketplace.catalog.search import LEVELS, CatalogIndex, IndexEntry, SearchQuery, SearchResult
from marketplace.db import adopt, column_rows, remove_unless_committed, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from marketplace.freshness import StateProbe
from marketplace.identity.models import Organisation
from marketplace.identity.principal import Principal
from marketplace.languages import N_
from marketplace.security import Keyring, SealedSpool
from marketplace.statements import DriverStatement

DATA_HOLDER_KINDS = ("national", "regional", "municipal")
SPOOL_CHUNK = 1 << 20


# --- finders -------------------------------------------------------------------------------

def get_dataset(session: Session, *, dataset_id: int) -> Dataset | None:
    """Return the dataset, or None."""
    return session.get(Dataset, dataset_id)


# Built once, run on the driver: the access engine asks this on every application. It reads
# what a decision needs, not the descriptor's texts (those load on first use).
_DECISION_COLUMNS = (Dataset.id, Dataset.publisher_org_id, Dataset.status, Dataset.access_rights,
                     Dataset.consent_model, Dataset.data_use, Dataset.k_min,
                     Dataset.subject_column, Dataset.columns)
_DATASETS_FOR_DECISION = DriverStatement(
    sa.select(*_DECISION_COLUMNS)
    .where(Dataset.id.in_(sa.bindparam("dataset_ids", expanding=True))))


def datasets_for_decision(session: Session, *, dataset_ids: Collection[int]
                          ) -> dict[int, Dataset]:
    """The datasets with these ids, by id (unknown ids are left out), in one query, with the
    fields an access decision reads loaded (any other loads on first use)."""
    if not dataset_ids:
        return {}
    rows = column_rows(session, _DATASETS_FOR_DECISION,
                       {"dataset_ids": sorted(set(dataset_ids))})
    return {row.id: adopt(session, Dataset, row._asdict()) for row in rows}


def require_dataset(session: Session, *, dataset_id: int) -> Dataset:
    """Return the dataset; raise NotFound."""
    dataset = get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise NotFound("datasæt {id} findes ikke", id=dataset_id)
    return dataset


def can_edit(actor: Principal, dataset: Dataset) -> bool:
    """Tell whether `actor` may change `dataset`: staff or clients of the owning holder."""
    return actor.has_scope("catalog:write") and actor.belongs_to(dataset.publisher_org_id)


def require_visible_dataset(session: Session, *, dataset_id: int, actor: Principal) -> Dataset:
    """Return a dataset the actor may read; drafts are seen only by their holder (NotFound)."""
    dataset = require_dataset(session, dataset_id=dataset_id)
    if dataset.status == "draft" and not (actor.belongs_to(dataset.publisher_org_id)
                                          or actor.is_operator):
        raise NotFound("datasæt {id} findes ikke", id=dataset_id)
    return dataset


def require_owned_dataset(session: Session, *, dataset_id: int, actor: Principal) -> Dataset:
    """Return a dataset the actor may change; raise NotFound or Forbidden."""
    dataset = require_visible_dataset(session, dataset_id=dataset_id, actor=actor)
    if not can_edit(actor, dataset):
        raise Forbidden("kun dataholderen, der udgiver datasættet, kan ændre det")
    return dataset


def current_version(session: Session, *, dataset: Dataset) -> DataVersion | None:
    """Return the newest valid data version of the dataset, or None."""
    return session.scalars(
        sa.select(DataVersion)
        .where(DataVersion.dataset_id == dataset.id, DataVersion.status == "valid")
        .order_by(DataVersion.number.desc()).limit(1)).first()


_newer = aliased(DataVersion)
CURRENT_VERSIONS = sa.select(DataVersion.dataset_id, DataVersion.id, DataVersion.sha256).where(
    DataVersion.dataset_id.in_(sa.bindparam("dataset_ids", expanding=True)),
    DataVersion.status == "valid",
    ~sa.exists().where(_newer.dataset_id == DataVersion.dataset_id, _newer.status == "valid",
                       _newer.number > DataVersion.number))
"""Each named dataset's newest valid data version, as rows of its dataset_id, id and sha256;
run with `{"dataset_ids": [...]}`. A statement rather than rows, so a caller may ask more of
the same round trip."""


def latest_version(session: Session, *, dataset: Dataset) -> DataVersion | None:
    """Return the newest data version, valid or not (its report is the latest verdict)."""
    return session.scalars(
        sa.select(DataVersion).where(DataVersion.dataset_id == dataset.id)
        .order_by(DataVersion.number.desc()).limit(1)).first()


def list_versions(session: Session, *, dataset: Dataset) -> list[DataVersion]:
    """Return every data version of the dataset, newest first."""
    return list(session.scalars(
        sa.select(DataVersion).where(DataVersion.dataset_id == dataset.id)
        .order_by(DataVersion.number.desc())))


def list_holder_datasets(session: Session, *, actor: Principal) -> list[Dataset]:
    """Return every dataset of the actor's organisation, newest change first."""
    if actor.org_id is None:
        return []
    return list(session.scalars(
        sa.select(Dataset).where(Dataset.publisher_org_id == actor.org_id)
        .order_by(Dataset.updated_at.desc(), Dataset.id.desc())))


def list_published_datasets(session: Session, *,
                            publisher_org_ids: list[int] | None = None) -> list[Dataset]:
    """Return published datasets (of the given publishers), by id."""
    stmt = sa.select(Dataset).where(Dataset.status == "published").order_by(Dataset.id)
    if publisher_org_ids is not None:
        stmt = stmt.where(Dataset.publisher_org_id.in_(publisher_org_ids))
    return list(session.scalars(stmt))


def count_published_by_level(session: Session) -> dict[str, int]:
    """Return how many published datasets each publisher level has."""
    rows = session.execute(
        sa.select(Organisation.kind, sa.func.count(Dataset.id))
        .join(Organisation, Dataset.publisher_org_id == Organisation.id)
        .where(Dataset.status == "published").group_by(Organisation.kind)).all()
    counts = dict.fromkeys(LEVELS, 0)
    counts.update({kind: n for kind, n in rows if kind in counts})
    return counts


# --- descriptors -----------------------------------------------------------------------------

def create_dataset(session: Session, *, actor: Principal, descriptor: Descriptor) -> Dataset:
    """Create a draft descriptor for the actor's data holder; raise Forbidden."""
    if not actor.has_scope("catalog:write") or actor.org_kind not in DATA_HOLDER_KINDS:
        raise Forbidden("kun nationale, regionale og kommunale dataholdere udgiver datasæt")
    clean = descriptor.stored()
    dataset = Dataset(publisher_org_id=actor.org_id, status="draft")
    _apply(dataset, clean)
    session.add(dataset)
    session.flush()
    return dataset


def update_dataset(session: Session, *, actor: Principal, dataset_id: int,
                   changes: DescriptorChanges) -> Dataset:
    """Change fields of the actor's descriptor; raise Forbidden or Conflict, and pydantic's
    ValidationError when the changed descriptor does not hold together."""
    dataset = require_owned_dataset(session, dataset_id=dataset_id, actor=actor)
    if dataset.status == "retired":
        raise Conflict("et tilbagetrukket datasæt kan ikke ændres")
    clean = merge_changes(descriptor_fields(dataset), changes).stored()
    if current_version(session, dataset=dataset) is not None:
        changed = [f for f in LOCKED_WITH_DATA if clean[f] != getattr(dataset, f)]
        if changed:
            raise Conflict("kolonneoversigten kan ikke ændres, når der findes en gyldig "
                           "dataversion; opret et nyt datasæt til en ny struktur",
                           errors=[{"field": f, "message": "locked by the stored data"}
                                   for f in changed])
    _apply(dataset, clean)
    dataset.updated_at = utcnow()
    session.flush()
    return dataset


def descriptor_fields(dataset: Dataset) -> dict:
    """Return the editable descriptor fields of a dataset as plain data."""
    return {
        "title": dataset.title, "title_en": dataset.title_en,
        "description": dataset.description, "description_en": dataset.description_en,
        "keywords": list(dataset.keywords), "themes": list(dataset.themes),
        "health_categories": list(dataset.health_categories),
        "access_rights": dataset.access_rights, "legal_basis": dataset.legal_basis,
        "consent_model": dataset.consent_model, "data_use": dict(dataset.data_use),
        "spatial": list(dataset.spatial), "temporal": dataset.temporal,
        "contact_point": dataset.contact_point, "k_min": dataset.k_min,
        "subject_column": dataset.subject_column,
        "columns": [dict(c) for c in dataset.columns],
    }


def _apply(dataset: Dataset, clean: dict) -> None:
    for name, value in clean.items():
        setattr(dataset, name, value)
    dataset.search_text = " ".join(
        part for part in (clean["title"], clean["title_en"], clean["description"],
                          clean["description_en"], " ".join(clean["keywords"])) if part
    ).lower()
    wanted = {("theme", c) for c in clean["themes"]} | {
        ("health_category", c) for c in clean["health_categories"]}
    dataset.tags = [t for t in dataset.tags if (t.facet, t.code) in wanted] + [
        DatasetTag(facet=facet, code=code) for facet, code in sorted(
            wanted - {(t.facet, t.code) for t in dataset.tags})]


def publish_dataset(session: Session, *, actor: Principal, dataset_id: int) -> Dataset:
    """Publish the descriptor; raise Conflict without a valid data version."""
    dataset = require_owned_dataset(session, dataset_id=dataset_id, actor=actor)
    if dataset.status == "published":
        return dataset
    if dataset.status == "retired":
        raise Conflict("Et tilbagetrukket datasæt kan ikke udgives igen. Opret et nyt datasæt.")
    if current_version(session, dataset=dataset) is None:
        raise Conflict("Upload en dataversion, der består valideringen, før datasættet kan "
                       "udgives.")
    dataset.status = "published"
    dataset.published_at = dataset.updated_at = utcnow()
    session.flush()
    return dataset


def retire_dataset(session: Session, *, actor: Principal, dataset_id: int) -> Dataset:
    """Take a published dataset out of the catalog; raise Conflict for drafts."""
    dataset = require_owned_dataset(session, dataset_id=dataset_id, actor=actor)
    if dataset.status == "draft":
        raise Conflict("En kladde er ikke udgivet og kan ikke trækkes tilbage.")
    if dataset.status == "published":
        dataset.status = "retired"
        dataset.retired_at = dataset.updated_at = utcnow()
        session.flush()
    return dataset


# --- data versions --------------------------------------------------------------------------

def spool_upload(stream: BinaryIO, *, directory: Path, max_bytes: int) -> SealedSpool:
    """Receive a request body into a sealed spool (never in clear on disk); raise TooLarge past
    `max_bytes` and Invalid when empty (nothing is kept either way).

    A form upload that the request parser already received into a sealed spool is used as is.
    """
    spool: SealedSpool
    if isinstance(stream, SealedSpool):
        spool = stream
    else:
        spool = SealedSpool(directory)
        try:
            while chunk := stream.read(SPOOL_CHUNK):
                spool.write(chunk)
                if spool.size > max_bytes:
                    break
        except BaseException:
            spool.close()
            raise
    if spool.size > max_bytes:
        spool.close()
        raise TooLarge(N_("dataversionen er større end grænsen på {limit} byte"), limit=max_bytes,
                       errors=[ingest.field_error(
                           "data", N_("dataversionen er større end grænsen på {limit} byte"),
                           limit=max_bytes)])
    if spool.size == 0:
        spool.close()
        raise ingest.refused(N_("Uploaden er tom."))
    spool.seek(0)
    return spool


def clean_spool(directory: Path) -> list[str]:
    """Remove files a crashed process left in the upload folder; return their names.

    Uploads are spooled to unnamed, encrypted files that vanish with their process, so anything
    with a name here is a leftover (of an older release that spooled in clear).
    """
    removed = []
    if directory.is_dir():
        for leftover in directory.iterdir():
            if leftover.is_file() or leftover.is_symlink():
                leftover.unlink(missing_ok=True)
                removed.append(leftover.name)
    return removed


UPLOAD_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def get_uploaded_version(session: Session, *, dataset_id: int,
                         upload_token: str | None) -> DataVersion | None:
    """The version an upload with this token stored, if any."""
    if upload_token is None:
        return None
    return session.scalars(sa.select(DataVersion).where(
        DataVersion.dataset_id == dataset_id, DataVersion.upload_token == upload_token)).first()


def upload_version(session: Session, *, actor: Principal, dataset_id: int, stream: BinaryIO,
                   media_type: str, keyring: Keyring, data_dir: Path,
                   max_bytes: int, upload_token: str | None = None) -> DataVersion:
    """Validate and store a new data version of the actor's dataset.

    An unreadable file raises Invalid and stores nothing. A readable file that fails its
    expectations is kept as an invalid version (its report only, never the data); the dataset
    keeps serving its previous valid version. An upload sent again with the same
    `upload_token` (a double click, a retry) answers with the version stored the first time.
    No encrypted file outlives a transaction that does not commit its version.
    """
    dataset = require_owned_dataset(session, dataset_id=dataset_id, actor=actor)
    if upload_token is not None and not UPLOAD_TOKEN.match(upload_token):
        raise Invalid.field("upload_token", N_("16 til 64 bogstaver, cifre, - eller _"))
    if dataset.status == "retired":
        raise Conflict("et tilbagetrukket datasæt modtager ikke nye data")
    if not dataset.columns:
        raise Conflict("beskriv kolonnerne i beskrivelsen, før du uploader data")
    source = spool_upload(stream, directory=data_dir / "tmp", max_bytes=max_bytes)
    size = source.size
    try:
        # Uploads of one dataset take turns: the second copy of a double-sent upload waits for
        # the first and answers with its version instead of storing the data twice.
        session.execute(sa.select(Dataset.id).where(Dataset.id == dataset.id).with_for_update())
        earlier = get_uploaded_version(session, dataset_id=dataset.id, upload_token=upload_token)
        if earlier is not None:
            return _same_upload(earlier, size=size)
        version, result = _store_version(session, dataset=dataset, source=source, size=size,
                                         media_type=media_type, keyring=keyring,
                                         data_dir=data_dir, actor=actor,
                                         upload_token=upload_token)
    finally:
        source.close()
    if result is not None and version.is_valid:  # None: stored by the first copy of it
        facts = result.report["facts"]
        dataset.number_of_records = facts["number_of_records"]
        dataset.number_of_unique_individuals = facts.get("number_of_unique_individuals")
        dataset.min_typical_age = facts.get("min_typical_age")
        dataset.max_typical_age = facts.get("max_typical_age")
        dataset.updated_at = utcnow()
    session.flush()
    return version


def remove_leftover_files(session: Session, *, data_dir: Path) -> list[Path]:
    """Remove stored version files that no data version points at once their writer is gone
    (an upload killed or whose database connection was lost before the commit)."""
    folder = data_dir / "catalog"
    if not folder.is_dir():
        return []
    stored = {data_dir / p for p in session.scalars(
        sa.select(DataVersion.path).where(DataVersion.path.is_not(None))) if p}
    return leftovers.remove_unreferenced(folder, referenced=stored.__contains__)


def _same_upload(earlier: DataVersion, *, size: int) -> DataVersion:
    """The version a repeated upload stored the first time; Conflict when the token comes with
    another file (a form used again after going back)."""
    if earlier.byte_size != size:
        raise Conflict("uploadformularen er allerede brugt til en anden fil; åbn den igen")
    return earlier


def _store_version(session: Session, *, dataset: Dataset, source: SealedSpool, size: int,
                   media_type: str, keyring: Keyring, data_dir: Path, actor: Principal,
                   upload_token: str | None) -> tuple[DataVersion, ingest.IngestResult | None]:
    number = (session.scalar(sa.select(sa.func.max(DataVersion.number))
                             .where(DataVersion.dataset_id == dataset.id)) or 0) + 1
    # A random part keeps two uploads that race for the same number from sharing a file; the
    # process id tells the clean-up at start-up that the file's writer is gone.
    relative = (Path("catalog") / str(dataset.id)
                / f"v{number}-{os.getpid()}-{os.urandom(6).hex()}.parquet.enc")
    target = data_dir / relative
    remove_unless_committed(session, target)
    try:
        result = ingest.ingest(cast(BinaryIO, source), media_type=media_type,
                               columns=dataset.columns, subject_column=dataset.subject_column,
                               keyring=keyring,
                               target=target, context=version_context(relative))
        version = DataVersion(
            dataset_id=dataset.id, number=number,
            status="valid" if result.sha256 else "invalid",
            media_type=media_type.split(";")[0].strip()[:60], byte_size=size,
            sha256=result.sha256, path=str(relative) if result.sha256 else None,
            number_of_rows=result.number_of_rows, report=result.report,
            uploaded_by=actor.name[:200], upload_token=upload_token)
        with session.begin_nested():
            session.add(version)
            session.flush()
    except IntegrityError:
        target.unlink(missing_ok=True)
        earlier = get_uploaded_version(session, dataset_id=dataset.id, upload_token=upload_token)
        if earlier is not None:
            return _same_upload(earlier, size=size), None
        raise Conflict("en anden dataversion af datasættet blev gemt samtidig; upload "
                       "igen") from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return version, result


def version_context(relative: Path | str) -> str:
    """The associated data that binds a stored file to its place (no swapping files)."""
    return f"catalog/data-version/{Path(relative).as_posix()}"


def version_path(version: DataVersion, *, data_dir: Path) -> Path:
    """Return where the encrypted data of a valid version lives."""
    if version.path is None:
        raise NotFound("dataversionen bestod ikke valideringen og har ingen data")
    return data_dir / version.path


def read_version_frames(version: DataVersion, *, keyring: Keyring, data_dir: Path,
                        columns: list[str] | None = None,
                        batch_rows: int = 250_000) -> Iterator[pd.DataFrame]:
    """Decrypt a stored version and yield it in batches (with the _subject_key column).

    The plaintext is held once, in one buffer; text columns come as pandas categoricals.
    Raises Invalid when the stored file was tampered with or truncated.
    """
    path = version_path(version, data_dir=data_dir)  # raises NotFound for an invalid version
    plaintext = ingest.decrypt_to_buffer(keyring, path,
                                         context=version_context(version.path or ""))
    try:
        yield from ingest.read_frames(plaintext, columns=columns, batch_rows=batch_rows)
    except Exception as exc:  # a decrypted file that is not Parquet is as bad as a tampered one
        if isinstance(exc, Invalid):
            raise
        raise Invalid("den gemte dataversion kan ikke læses") from exc


def quality_report(session: Session, *, dataset_id: int, actor: Principal,
                   version_number: int | None = None) -> DataVersion:
    """Return the data version whose report to show: the latest, or the numbered one."""
    dataset = require_visible_dataset(session, dataset_id=dataset_id, actor=actor)
    if version_number is None:
        version = latest_version(session, dataset=dataset)
        if version is not None and not version.is_valid and not can_edit(actor, dataset):
            # Others see the report of the data the catalog actually serves.
            version = current_version(session, dataset=dataset)
    else:
        version = session.scalars(sa.select(DataVersion).where(
            DataVersion.dataset_id == dataset.id, DataVersion.number == version_number)).first()
        if version is not None and not version.is_valid and not can_edit(actor, dataset):
            version = None
    if version is None:
        raise NotFound("der er endnu ikke uploadet nogen dataversion")
    return version



# --- search and export ----------------------------------------------------------------------

def search_datasets(session: Session, *, query: SearchQuery) -> SearchResult:
    """Return one page of published datasets matching the query, with facet counts, and when
    nothing matches, similar searches that find something."""
    index = _catalog_index(session)
    ids, total, facets = index.search(query)
    found = {d.id: d for d in session.scalars(sa.select(Dataset).where(Dataset.id.in_(ids)))}
    return SearchResult(items=[found[i] for i in ids if i in found], total=total,
                        facets=facets, query=query,
                        suggestions=index.suggest(query) if total == 0 else [])


@dataclass(frozen=True)
class SearchPage:
    """One page of search results as the API shows it."""

    items: list[dict]
    total: int
    page: int
    per_page: int
    facets: dict[str, dict[str, int]]


def search_catalog(session: Session, *, query: SearchQuery) -> SearchPage:
    """Return one page of the published catalog as public descriptors, with facet counts.

    The answer comes from this process's index of the catalog: popular searches and the
    descriptors they show are kept until any descriptor changes, so a repeated search costs no
    ORM work, and at most one small query a second (is the catalog unchanged?).
    """
    return _search_page(session, _catalog_index(session), query)


def search_catalog_json(session: Session, *, query: SearchQuery) -> bytes:
    """The page `search_catalog` returns, as the API's JSON text; a repeated search is sent as
    it was encoded the first time, until the catalog changes."""
    index = _catalog_index(session)
    body = index.encoded_page(query)
    if body is None:
        page = _search_page(session, index, query)
        body = json.dumps({"items": page.items, "total": page.total, "page": page.page,
                           "per_page": page.per_page, "facets": page.facets},
                          sort_keys=True, separators=(",", ":"), default=str).encode()
        index.keep_encoded(query, body)
    return body


def _search_page(session: Session, index: CatalogIndex, query: SearchQuery) -> SearchPage:
    ids, total, facets = index.search(query)
    missing = [i for i in ids if i not in index.documents]
    if missing:
        for dataset in session.scalars(sa.select(Dataset).where(Dataset.id.in_(missing))):
            index.documents[dataset.id] = dataset_to_json(dataset)
    return SearchPage(items=[index.documents[i] for i in ids if i in index.documents],
                      total=total, page=query.page, per_page=query.per_page, facets=facets)


_index_lock = threading.Lock()
_index: tuple[tuple, CatalogIndex] | None = None


# Both answered from ix_dataset_updated_at.
_STATE_QUERY = sa.select(sa.func.count(Dataset.updated_at), sa.func.max(Dataset.updated_at))


def _catalog_state(session: Session) -> tuple:
    """Identify the catalog's state: every change of a descriptor moves its updated_at."""
    return tuple(session.execute(_STATE_QUERY).one())


# The search index's freshness: a change made by this process shows at once, one made by
# another process within a second.
_recent_catalog_state = StateProbe(_catalog_state, Dataset, Organisation)


def _catalog_index(session: Session) -> CatalogIndex:
    """The in-memory index of the published catalog; each process rebuilds its copy when the
    catalog's state changes."""
    global _index
    state = _recent_catalog_state(session)
    with _index_lock:
        if _index is None or _index[0] != state:
            rows = session.execute(
                sa.select(Dataset.id, Organisation.kind, Organisation.slug,
                          Dataset.access_rights, Dataset.search_text, Dataset.title,
                          Dataset.published_at, Dataset.themes, Dataset.health_categories)
                .join(Organisation, Dataset.publisher_org_id == Organisation.id)
                .where(Dataset.status == "published")).all()
            _index = (state, CatalogIndex([
                IndexEntry(id=r[0], level=r[1], publisher=r[2], access_rights=r[3], text=r[4],
                           title=r[5], published=r[6].timestamp() if r[6] else 0.0,
                           themes=tuple(r[7]), health_categories=tuple(r[8]))
                for r in rows]))
        return _index[1]


def export_catalog(session: Session, *, base_url: str, fmt: str) -> str:
    """Return the HealthDCAT-AP catalog of every published dataset as Turtle or JSON-LD.

    Read in one query of plain rows (no ORM objects); each process keeps the last export per
    format until any descriptor changes.
    """
    key = (_catalog_state(session), base_url, fmt)
    with _export_lock:
        if key not in _exports:
            with dcat.cyclic_collection_paused():
                descriptors = _export_descriptors(session)
                # Asked of the index rather than of 10,000 timestamps read and converted.
                modified = session.execute(
                    sa.select(sa.func.max(Dataset.updated_at))
                    .where(Dataset.status == "published")).scalar()
                if len(_exports) > 8:
                    _exports.clear()
                _exports[key] = dcat.export(descriptors, base_url=base_url, fmt=fmt,
                                            title="Sundhedsdatakatalog for Region Hovedstaden",
                                            modified=modified)
                del descriptors  # freed before the collector is back (see dcat.export)
        return _exports[key]


_PERSONAL_ROLE = re.compile(r'"role":\s*"(?:direct_identifier|quasi_identifier|sensitive)"')
_ICD10_CODES = re.compile(r'"code_system":\s*"icd10"')


def _column_facts(columns: str | list | None) -> tuple[bool, bool]:
    """What the export says about a column dictionary (whether it holds personal data, whether
    it uses ICD-10 codes), read from its stored JSON text.

    Decoding 10,000 dictionaries only to ask two questions of them was a third of the export.
    """
    if isinstance(columns, str):
        return bool(_PERSONAL_ROLE.search(columns)), bool(_ICD10_CODES.search(columns))
    columns = columns or []  # drivers that decode JSON themselves (PostgreSQL's jsonb)
    return (any(c.get("role") in dcat.PERSONAL_ROLES for c in columns),
            any(c.get("code_system") == "icd10" for c in columns))


def _export_descriptors(session: Session) -> list[dict]:
    """The published descriptors with what the export states, in one query."""
    sizes = _current_byte_sizes(session)
    d, org = Dataset, Organisation
    json_columns = (d.keywords, d.themes, d.health_categories, d.data_use, d.spatial,
                    d.temporal, d.contact_point)
    # Plain rows, not ORM rows; the JSON columns as their stored text, decoded below at once.
    rows = session.connection().execute(
        sa.select(d.id, d.title, d.title_en, d.description, d.description_en,
                  d.access_rights, d.legal_basis,
                  sa.type_coerce(d.columns, sa.Text).label("columns"), d.number_of_records,
                  d.number_of_unique_individuals, d.min_typical_age, d.max_typical_age,
                  org.slug, org.name, org.kind, org.homepage, org.email,
                  *(sa.type_coerce(c, sa.Text).label(c.key) for c in json_columns))
        .join(org, d.publisher_org_id == org.id)
        .where(d.status == "published").order_by(d.id)).all()
    width = len(json_columns)
    decoded = _decode_json_cells([value for r in rows for value in r[-width:]])
    # Unpacked by position: looking up 25 attributes of each row by name took half as long
    # as the query.
    descriptors = []
    for (id_, title, title_en, description, description_en, access_rights, legal_basis,
         columns, records, individuals, min_age, max_age, slug, name, kind, homepage, email,
         *_stored_json), cells in zip(rows, _chunks(decoded, width), strict=True):
        personal, icd10 = _column_facts(columns)
        descriptors.append({
            "id": id_, "title": title, "title_en": title_en, "description": description,
            "description_en": description_en, "keywords": cells[0], "themes": cells[1],
            "health_categories": cells[2], "access_rights": access_rights,
            "legal_basis": legal_basis, "data_use": cells[3], "spatial": cells[4],
            "temporal": cells[5], "contact_point": cells[6],
            "has_personal_data": personal, "uses_icd10": icd10,
            "number_of_records": records, "number_of_unique_individuals": individuals,
            "min_typical_age": min_age, "max_typical_age": max_age,
            "byte_size": sizes.get(id_, 0),
            "publisher": {"slug": slug, "name": name, "homepage": homepage, "email": email,
                          "level": kind if kind in DATA_HOLDER_KINDS else None},
        })
    return descriptors


def _chunks(values: list[Any], width: int) -> Iterator[list[Any]]:
    return (values[start:start + width] for start in range(0, len(values), width))


def _decode_json_cells(values: list[Any]) -> list[Any]:
    """Decode many stored JSON texts in one parse instead of one call each.

    SQLite hands JSON columns over as text; PostgreSQL's driver has already decoded jsonb, and
    those values pass unchanged. A stored text that is not exactly one JSON value makes the
    count differ, and then each is decoded on its own (and fails where it is broken).
    """
    texts = [value for value in values if isinstance(value, str)]
    if not texts:
        return values
    parsed = json.loads("[" + ",".join(texts) + "]")
    if len(parsed) != len(texts):
        parsed = [json.loads(text) for text in texts]
    found = iter(parsed)
    return [next(found) if isinstance(value, str) else value for value in values]


_export_lock = threading.Lock()
_exports: dict[tuple, str] = {}


def _current_byte_sizes(session: Session) -> dict[int, int]:
    """Size of the current (newest valid) version of every dataset, in one query."""
    newest = (sa.select(DataVersion.dataset_id, sa.func.max(DataVersion.number).label("number"))
              .where(DataVersion.status == "valid").group_by(DataVersion.dataset_id).subquery())
    rows = session.execute(sa.select(DataVersion.dataset_id, DataVersion.byte_size).join(
        newest, sa.and_(DataVersion.dataset_id == newest.c.dataset_id,
                        DataVersion.number == newest.c.number))).all()
    return dict(rows)


# --- serialisation --------------------------------------------------------------------------

def dataset_to_json(dataset: Dataset, *, byte_size: int | None = None) -> dict:
    """Return the public descriptor: the editable fields plus the server-computed facts."""
    publisher = dataset.publisher
    body = {"id": dataset.id} | descriptor_fields(dataset) | {
        "publisher": {"slug": publisher.slug, "name": publisher.name, "level": publisher.level,
                      "homepage": publisher.homepage, "email": publisher.email},
        "status": dataset.status,
        "number_of_records": dataset.number_of_records,
        "number_of_unique_individuals": dataset.number_of_unique_individuals,
        "min_typical_age": dataset.min_typical_age,
        "max_typical_age": dataset.max_typical_age,
        "quality": {"url": f"/api/v1/datasets/{dataset.id}/quality",
                    "valid_data": dataset.number_of_records is not None},
        "created_at": _iso(dataset.created_at), "updated_at": _iso(dataset.updated_at),
        "published_at": _iso(dataset.published_at),
    }
    if byte_size is not None:
        body["byte_size"] = byte_size
    return body


def version_to_json(version: DataVersion) -> dict:
    """Return a data version with its quality report."""
    return {
        "dataset_id": version.dataset_id, "version": version.number,
        "valid": version.is_valid, "created_at": _iso(version.created_at),
        "media_type": version.media_type, "byte_size": version.byte_size,
        "number_of_rows": version.number_of_rows, "sha256": version.sha256,
        "report": version.report,
    }


def failed_expectations(version: DataVersion) -> list[dict[str, Any]]:
    """Return the failed expectations as problem `errors` (rows only, never values); a refused
    version always names at least one."""
    failed = [{"field": e["column"],
             "message": f"{e['expectation']}: {e['description']} failed for "
                        f"{e['unexpected_count']} rows (e.g. rows "
                        + ", ".join(str(r) for r in e["example_rows"]) + ")",
             "expectation": e["expectation"], "rule": e["rule"],
             "unexpected_count": e["unexpected_count"], "example_rows": e["example_rows"]}
            for e in version.report.get("expectations", []) if not e["success"]]
    if not failed and not version.is_valid:  # kept from before empty files were refused
        failed.append(ingest.field_error("data", N_("versionen har ingen gyldige rækker")))
    return failed


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


# --- pages ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetOverview:
    """What the dataset page shows: the descriptor, its versions and what the viewer may do."""

    dataset: Dataset
    current: DataVersion | None
    latest: DataVersion | None
    versions: list[DataVersion]
    editable: bool


def dataset_overview(session: Session, *, dataset_id: int, actor: Principal) -> DatasetOverview:
    """Return the dataset page's content; raise NotFound for others' drafts."""
    dataset = require_visible_dataset(session, dataset_id=dataset_id, actor=actor)
    editable = can_edit(actor, dataset)
    versions = list_versions(session, dataset=dataset) if editable else []
    return DatasetOverview(dataset=dataset, current=current_version(session, dataset=dataset),
                           latest=versions[0] if versions else None, versions=versions,
                           editable=editable)
