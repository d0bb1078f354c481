"""Byte-stream helpers shared by uploads and extracts (pure: no database, no Flask)."""

from __future__ import annotations

import io
from collections.abc import Iterable

import pyarrow as pa


class ByteSink(io.RawIOBase):
    """A write-only file that hands out what was written since the last `take()`.

    Lets a Parquet writer produce its file piece by piece, so the pieces can be encrypted and
    written to disk without holding the whole file.
    """

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def gather(segments: Iterable[bytes], *, capacity: int) -> pa.Buffer:
    """Copy segments into one preallocated buffer of at most `capacity` bytes.

    Joining the segments would hold the plaintext twice; this holds it once.
    """
    buffer = bytearray(capacity)
    view, filled = memoryview(buffer), 0
    for segment in segments:
        view[filled:filled + len(segment)] = segment
        filled += len(segment)
    return pa.py_buffer(buffer).slice(0, filled)
