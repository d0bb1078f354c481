"""Keys and protection of personal data.

Every key is derived with HKDF-SHA256 from one master key, so custody is a single secret:
- the CPR blind index (HMAC-SHA256) lets the platform find a citizen without storing the CPR;
- AES-256-GCM seals values that must stay recoverable and files at rest, with a context string
  bound as associated data so a ciphertext cannot be moved to another purpose;
- an Ed25519 key signs extract manifests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import logging
import os
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from marketplace.cpr import CPR_IN_TEXT, normalise_cpr
from marketplace.errors import Invalid

_FILE_MAGIC = b"MKTENC1\n"
_SEGMENT = 1 << 20  # plaintext bytes per sealed segment: bounded memory for any file size
_NONCE = 12


class Keyring:
    """All keys of the platform, derived from the master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._master = master_key

    def derive(self, info: str, length: int = 32) -> bytes:
        """Derive a sub-key for one named purpose."""
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                    info=info.encode()).derive(self._master)

    @cached_property
    def blind_index_key(self) -> bytes:
        return self.derive("cpr-blind-index")

    def blind_index(self, cpr: str) -> str:
        """Return the keyed blind index of a CPR number (raises ValueError if invalid)."""
        digits = normalise_cpr(cpr)
        return hmac.new(self.blind_index_key, digits.encode(), hashlib.sha256).hexdigest()

    @cached_property
    def audit_key(self) -> bytes:
        """The key of the audit chain's MACs: without it nobody can re-write the chain."""
        return self.derive("audit-chain-mac")

    @cached_property
    def _aead(self) -> AESGCM:
        return AESGCM(self.derive("aes-gcm-seal"))

    def seal(self, data: bytes, *, context: str) -> bytes:
        """Encrypt and authenticate `data` for `context`."""
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, data, context.encode())

    def open(self, token: bytes, *, context: str) -> bytes:
        """Decrypt a sealed value; raise Invalid if it was tampered with or sealed elsewhere."""
        try:
            return self._aead.decrypt(token[:_NONCE], token[_NONCE:], context.encode())
        except (InvalidTag, ValueError) as exc:
            raise Invalid("den forseglede værdi kunne ikke godkendes") from exc

    @cached_property
    def signing_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.derive("manifest-signing-ed25519"))

    @cached_property
    def public_key_b64(self) -> str:
        raw = self.signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()

    def write_encrypted(self, path: Path, chunks: Iterable[bytes], *, context: str) -> str:
        """Encrypt a stream to `path` atomically; return the SHA-256 hex of the plaintext.

        The file is a header and a sequence of AES-GCM segments. Each segment's associated data
        binds the context, its index and whether it is the last one, so reordering, truncation
        and tampering are all detected on read.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.part")
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                out.write(_FILE_MAGIC)
                for index, (segment, last) in enumerate(_segments(chunks)):
                    digest.update(segment)
                    nonce = os.urandom(_NONCE)
                    aad = _segment_aad(context, index, last)
                    sealed = self._aead.encrypt(nonce, segment, aad)
                    out.write(struct.pack(">I", len(sealed)) + nonce + sealed)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return digest.hexdigest()

    def read_encrypted(self, path: Path, *, context: str) -> Iterator[bytes]:
        """Yield the plaintext of an encrypted file; raise Invalid if tampered or truncated."""
        with open(path, "rb") as src:
            if src.read(len(_FILE_MAGIC)) != _FILE_MAGIC:
                raise Invalid("den gemte fil er ikke en krypteret fil fra markedspladsen")
            index = 0
            while True:
                header = src.read(4)
                if len(header) != 4:
                    raise Invalid("den gemte fil er afkortet")
                (length,) = struct.unpack(">I", header)
                nonce = src.read(_NONCE)
                sealed = src.read(length)
                if len(nonce) != _NONCE or len(sealed) != length:
                    raise Invalid("den gemte fil er afkortet")
                last = src.peek(1) == b""
                try:
                    plain = self._aead.decrypt(nonce, sealed, _segment_aad(context, index, last))
                except InvalidTag as exc:
                    raise Invalid("den gemte fil kunne ikke godkendes (ændret eller afkortet)"
                                  ) from exc
                yield plain
                if last:
                    return
                index += 1

    def read_encrypted_bytes(self, path: Path, *, context: str) -> bytes:
        """Return the whole plaintext of an encrypted file (for files that fit in memory)."""
        return b"".join(self.read_encrypted(path, context=context))


class SealedSpool(io.RawIOBase):
    """A temporary file that holds what is written to it only encrypted.

    For data on its way in (an upload being received): the file has no name (it is unlinked
    when created, so a killed process leaves nothing behind) and its AES-GCM key lives only in
    this object, so even the disk blocks of a crashed process hold nothing readable. Write it
    from start to end, then read it back from any position (Parquet readers seek): each
    fixed-size segment is sealed on its own, bound to its index.
    """

    def __init__(self, directory: Path) -> None:
        super().__init__()
        directory.mkdir(parents=True, exist_ok=True)
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed by close())
        self._aead = AESGCM(AESGCM.generate_key(256))
        self._pending = bytearray()
        self._segments = 0
        self.size = 0
        self._sealed = False
        self._position = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return not self._sealed

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._checkClosed()
        if self._sealed:
            raise OSError("a sealed spool is read-only once reading started")
        view = memoryview(data).cast("B")
        self._pending.extend(view)
        self.size += len(view)
        while len(self._pending) >= _SEGMENT:
            self._seal(bytes(self._pending[:_SEGMENT]))
            del self._pending[:_SEGMENT]
        return len(view)

    def _seal(self, segment: bytes) -> None:
        nonce = os.urandom(_NONCE)
        self._file.write(nonce + self._aead.encrypt(nonce, segment,
                                                    struct.pack(">Q", self._segments)))
        self._segments += 1

    def _finish_writing(self) -> None:
        if not self._sealed:
            if self._pending:
                self._seal(bytes(self._pending))
                self._pending.clear()
            self._file.flush()
            self._sealed = True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._finish_writing()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position if self._sealed else self.size

    def _segment(self, index: int) -> bytes:
        if self._cached is None or self._cached[0] != index:
            record = _NONCE + _SEGMENT + 16
            self._file.seek(index * record)
            sealed = self._file.read(record)
            plain = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:],
                                       struct.pack(">Q", index))
            self._cached = (index, plain)
        return self._cached[1]

    def readinto(self, buffer: Any) -> int:
        self._checkClosed()
        self._finish_writing()
        target = memoryview(buffer).cast("B")
        done = 0
        while done < len(target) and self._position < self.size:
            index, offset = divmod(self._position, _SEGMENT)
            segment = self._segment(index)
            piece = segment[offset:offset + len(target) - done]
            target[done:done + len(piece)] = piece
            done += len(piece)
            self._position += len(piece)
        return done

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self._cached = None
        super().close()


def _segment_aad(context: str, index: int, last: bool) -> bytes:
    return f"{context}|{index}|{'last' if last else 'more'}".encode()


def _segments(chunks: Iterable[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Re-cut a byte stream into fixed-size segments, flagging the last (possibly empty) one."""
    buffer = bytearray()
    pending: bytes | None = None
    for chunk in chunks:
        buffer.extend(chunk)
        while len(buffer) >= _SEGMENT:
            if pending is not None:
                yield pending, False
            pending = bytes(buffer[:_SEGMENT])
            del buffer[:_SEGMENT]
    if pending is not None:
        if buffer:
            yield pending, False
            yield bytes(buffer), True
        else:
            yield pending, True
    else:
        yield bytes(buffer), True


def generate_master_key() -> str:
    """Return a new random master key, base64-encoded as MARKETPLACE_MASTER_KEY expects."""
    return base64.b64encode(os.urandom(32)).decode()


def decode_master_key(value: str) -> bytes:
    key = base64.b64decode(value, validate=True)
    if len(key) != 32:
        raise ValueError("MARKETPLACE_MASTER_KEY must be base64 of exactly 32 bytes")
    return key


def current_keyring() -> Keyring:
    """Return the running app's keyring (views and CLI only)."""
    from flask import current_app

    return current_app.extensions["marketplace.keyring"]


_RECORD_TEXT_SKIPPED = frozenset({"msg", "message", "exc_text", "pathname", "filename",
                                   "module", "funcName", "name", "levelname", "processName",
                                   "threadName", "taskName", "stack_info"})


class CprRedactingFilter(logging.Filter):
    """Replace anything that looks like a CPR number in log records: logs never hold a CPR.

    The message and every extra text field (a request path, an object's attribute) are
    redacted, since a JSON formatter writes the extras as they are.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if CPR_IN_TEXT.search(message):
            record.msg = CPR_IN_TEXT.sub("[CPR]", message)
            record.args = None
        for key, value in vars(record).items():
            if (isinstance(value, str) and key not in _RECORD_TEXT_SKIPPED
                    and CPR_IN_TEXT.search(value)):
                setattr(record, key, CPR_IN_TEXT.sub("[CPR]", value))
        if record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if CPR_IN_TEXT.search(text):
                record.exc_info = None
                record.exc_text = None
                record.msg = f"{record.msg} (exception text withheld: it held a CPR-like number)"
        return True


def _redacting_record_factory(factory: Callable[..., logging.LogRecord]
                              ) -> Callable[..., logging.LogRecord]:
    redact = CprRedactingFilter()

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        redact.filter(record)
        return record

    make_record.redacts_cpr = True  # type: ignore[attr-defined]
    return make_record


def install_log_redaction() -> None:
    """Redact CPR-like numbers from every log record, whichever handler writes it.

    Messages are redacted when a record is made (so a handler added later, by a library or a
    test, never sees a CPR); extra fields are set after that, so the root logger's handlers
    carry the filter too.
    """
    if not getattr(logging.getLogRecordFactory(), "redacts_cpr", False):
        logging.setLogRecordFactory(_redacting_record_factory(logging.getLogRecordFactory()))
    root = logging.getLogger()
    if not root.handlers:
        # Libraries stay at WARNING (some are chatty at INFO); our own messages show at INFO.
        logging.basicConfig(level=logging.WARNING)
        logging.getLogger("marketplace").setLevel(logging.INFO)
    for handler in root.handlers:
        if not any(isinstance(f, CprRedactingFilter) for f in handler.filters):
            handler.addFilter(CprRedactingFilter())
