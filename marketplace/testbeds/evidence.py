"""Evidence files of a test course: recognised by their bytes, stored encrypted."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path, PurePath

from sqlalchemy.orm import Session

from marketplace import audit, cpr
from marketplace.errors import Invalid, NotFound, TooLarge
from marketplace.identity.principal import Principal
from marketplace.languages import N_
from marketplace.security import Keyring
from marketplace.testbeds import lifecycle
from marketplace.testbeds.courses import require_open_for_outcomes, require_test_course
from marketplace.testbeds.models import (
    EvidenceFile,
)

EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
EVIDENCE_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "text/csv": ".csv",
    "text/plain": ".txt",
}
# ASCII only: the name travels in a Content-Disposition header.
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9.\- _]+")




def detect_evidence_type(data: bytes) -> str | None:
    """The content type of an evidence file judged by its bytes, or None if not accepted."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    first = text.split("\n", 1)[0]
    return "text/csv" if first.count(",") + first.count(";") >= 1 else "text/plain"


def _safe_filename(filename: str, content_type: str) -> str:
    name = PurePath(filename.replace("\\", "/")).name
    for danish, ascii_ in (("æ", "ae"), ("ø", "oe"), ("å", "aa"), ("Æ", "Ae"), ("Ø", "Oe"),
                           ("Å", "Aa")):
        name = name.replace(danish, ascii_)
    name = _SAFE_FILENAME.sub("_", name).strip(" ._")
    stem = (name.rsplit(".", 1)[0] if "." in name else name)[:150] or "evidence"
    return stem + EVIDENCE_TYPES[content_type]


def add_evidence(session: Session, *, actor: Principal, course_id: int, filename: str,
                 data: bytes, dimension: str | None, keyring: Keyring,
                 data_dir: Path) -> EvidenceFile:
    """Store an evidence file encrypted under the data directory.

    Only PDF, PNG, JPEG, CSV and plain text are accepted (judged by content, not by name), up
    to 10 MB, and neither text files nor file names may contain CPR numbers. Raises NotFound,
    Forbidden, Conflict, TooLarge or Invalid; nothing is stored when it raises.
    """
    course = require_test_course(session, actor=actor, course_id=course_id)
    require_open_for_outcomes(course, actor)
    if len(data) > EVIDENCE_MAX_BYTES:
        raise TooLarge("evidensfiler må højst fylde {mb} MB",
                       mb=EVIDENCE_MAX_BYTES // (1024 * 1024))
    if not data:
        raise Invalid.field("file", N_("filen er tom"))
    if dimension is not None and dimension not in lifecycle.EFFECT_DIMENSIONS:
        raise Invalid.field("dimension", N_("ukendt effektdimension"))
    content_type = detect_evidence_type(data)
    if content_type is None:
        raise Invalid.field("file", N_("kun PDF-, PNG-, JPEG-, CSV- og tekstfiler modtages"))
    if content_type.startswith("text/") and cpr.contains_cpr(data.decode("utf-8")):
        raise Invalid.field("file", N_("filen indeholder CPR-numre; fjern dem, og prøv igen"))
    if cpr.contains_cpr(filename):  # the name is shown to every party of the course
        raise Invalid.field("file", N_("filnavnet indeholder et CPR-nummer; omdøb filen"))
    relative = f"evidence/{course.id}/{uuid.uuid4().hex}.bin"
    sha256 = keyring.write_encrypted(Path(data_dir) / relative, [data],
                                     context=_evidence_context(relative))
    evidence = EvidenceFile(
        course=course, dimension=dimension, filename=_safe_filename(filename, content_type),
        content_type=content_type, size_bytes=len(data), sha256=sha256, path=relative,
        uploaded_by_org_id=actor.org_id or course.company_org_id,
    )
    session.add(evidence)
    audit.record_audit(
        session, actor=actor, action="test_course.evidence_added", subject_type="test_course",
        subject_id=str(course.id), details={"sha256": sha256, "size_bytes": len(data)},
    )
    session.flush()
    return evidence


def _evidence_context(relative_path: str) -> str:
    return f"testbeds-evidence:{relative_path}"


def read_evidence(session: Session, *, actor: Principal, evidence_id: int, keyring: Keyring,
                  data_dir: Path) -> tuple[EvidenceFile, bytes]:
    """Decrypt an evidence file the actor may see; raises NotFound, Forbidden or Invalid."""
    evidence = session.get(EvidenceFile, evidence_id)
    if evidence is None:
        raise NotFound("evidensfil {id} findes ikke", id=evidence_id)
    require_test_course(session, actor=actor, course_id=evidence.course_id)
    data = b"".join(keyring.read_encrypted(Path(data_dir) / evidence.path,
                                           context=_evidence_context(evidence.path)))
    if hashlib.sha256(data).hexdigest() != evidence.sha256:
        raise Invalid("den gemte evidensfil passer ikke med sin kontrolsum")
    return evidence, data
