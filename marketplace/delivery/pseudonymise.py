"""Keyed pseudonyms and per-citizen date offsets, computed on unique identifiers in batch.

The pseudorandom function is AES-256 applied to exactly one 16-byte block per identifier (a CPR
number is ten digits, so it fits one block with zero padding), in ECB mode over a batch.

Why this is a sound keyed PRF for pseudonyms:
- AES-256 under a secret key is a pseudorandom permutation (PRP). On distinct one-block inputs
  a PRP is indistinguishable from a random function up to the birthday bound q^2 / 2^129, which
  for q = 10^8 citizens is below 2^-75: for any party without the key, pseudonyms are random
  strings. ECB's well-known weakness (equal blocks give equal output) is exactly the property a
  pseudonym wants here: every identifier is its own single block, nothing spans blocks.
- Without the key nobody can recompute a pseudonym from a CPR number, so the small CPR space
  (about 10^7 plausible numbers per century) cannot be enumerated, unlike with an unkeyed hash.
- Each permit gets its own key (HKDF from the master key and the permit id), so pseudonyms are
  stable across the datasets of one permit and unlinkable across permits.
- A PRP can be inverted by whoever holds the key; that is the platform's key custody, the same
  party that could recompute HMAC pseudonyms. Companies never see a key.
- We keep 96 of the 128 output bits (collision chance below 2^-40 for 10^8 citizens) and spell
  them with the letters a-p only, so a pseudonym can never look like a CPR number to a leak scan.

Batching matters: one AES call over all uniques runs at memory speed in C, where a per-value
HMAC call pays Python's interpreter overhead on every identifier.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PSEUDONYM_BYTES = 12
_BLOCK = 16
# Nibble -> letter table: 'a'..'p' (no digits, so no pseudonym resembles a CPR number).
_NIBBLE_LETTERS = np.frombuffer(b"abcdefghijklmnop", dtype=np.uint8)
_HEX_VALUE = np.zeros(256, dtype=np.uint8)
_HEX_VALUE[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)


def prf_blocks(key: bytes, blocks: np.ndarray) -> np.ndarray:
    """Return the keyed PRF (AES-256 on each 16-byte row of `blocks`) as an (n, 16) uint8 array."""
    if len(blocks) == 0:
        return np.empty((0, _BLOCK), dtype=np.uint8)
    # ECB is right here: each identifier is exactly one block (see the module docstring).
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
    out = encryptor.update(np.ascontiguousarray(blocks).tobytes()) + encryptor.finalize()
    return np.frombuffer(out, dtype=np.uint8).reshape(-1, _BLOCK)


def canonical_identifiers(values: pd.Index | pd.Series | np.ndarray) -> pa.Array:
    """Spell identifiers one way (CPR numbers lose the optional hyphen or space), as Arrow text."""
    text = pa.array(pd.Index(values).astype("str").array, type=pa.large_string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return pc.replace_substring(pc.replace_substring(text, "-", ""), " ", "")


def _blind_index_blocks(text: pa.Array) -> np.ndarray | None:
    """The first 128 bits of 64-hex-digit blind indexes, decoded in bulk; None if not all are."""
    if len(text) == 0 or pc.any(pc.not_equal(pc.binary_length(text), 64)).as_py():
        return None
    if not pc.all(pc.match_substring_regex(text, r"^[0-9a-f]{64}$")).as_py():
        return None
    text = text.cast(pa.large_string())
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:]
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    digits = data[offsets[0]: offsets[0] + 64 * len(text)].reshape(-1, 64)[:, :32]
    nibbles = _HEX_VALUE[digits]
    return (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]


def person_numbers(identifiers: pd.Index) -> np.ndarray:
    """A 64-bit number per distinct identifier, stable across chunks (for counting persons).

    For CPR blind indexes (already keyed hashes) it is their first 64 bits; otherwise a hash.
    """
    text = pa.array(pd.Index(identifiers).astype("str").array, type=pa.string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    blocks = _blind_index_blocks(text)
    if blocks is None:
        return pd.util.hash_array(np.asarray(pd.Index(identifiers).astype(str), dtype=object))
    return np.ascontiguousarray(blocks[:, :8]).view("<u8").ravel()


def identifier_blocks(canonical: pa.Array) -> np.ndarray:
    """Lay canonical identifiers out as one 16-byte block each.

    CPR numbers are space-padded (unambiguous: canonical identifiers hold no spaces). A CPR
    blind index (64 hex digits, itself an HMAC of the CPR number) contributes its first 128
    bits, so the pipeline can pseudonymise without ever reading the CPR column; other longer
    identifiers are hashed to 16 bytes.
    """
    if isinstance(canonical, pa.ChunkedArray):
        canonical = canonical.combine_chunks()
    blind = _blind_index_blocks(canonical)
    if blind is not None:
        return blind
    padded = pc.utf8_rpad(canonical, _BLOCK, padding=" ").cast(pa.large_string())
    lengths = pc.binary_length(padded).to_numpy(zero_copy_only=False)
    if len(padded) and lengths.max() > _BLOCK:
        return np.array(
            [_fold(v) for v in padded.to_pylist()], dtype=f"S{_BLOCK}"
        ).view(np.uint8).reshape(-1, _BLOCK)
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int64)
    offsets = offsets[padded.offset : padded.offset + len(padded) + 1]
    data = np.frombuffer(padded.buffers()[2], dtype=np.uint8)
    return data[offsets[0] : offsets[-1]].reshape(-1, _BLOCK)


def _fold(value: str) -> bytes:
    encoded = value.encode("utf-8")
    if len(encoded) <= _BLOCK:
        return encoded
    return hashlib.blake2b(encoded, digest_size=_BLOCK).digest()


def _letters(prf_out: np.ndarray) -> pd.Index:
    raw = prf_out[:, :PSEUDONYM_BYTES]
    width = PSEUDONYM_BYTES * 2
    nibbles = np.empty((len(raw), width), dtype=np.uint8)
    nibbles[:, 0::2] = raw >> 4
    nibbles[:, 1::2] = raw & 0x0F
    spelled = _NIBBLE_LETTERS[nibbles]
    offsets = np.arange(len(raw) + 1, dtype=np.int64) * width
    arrow = pa.Array.from_buffers(
        pa.large_string(), len(raw), [None, pa.py_buffer(offsets), pa.py_buffer(spelled)]
    )
    return pd.Index(pd.array(arrow, dtype="str"))


def pseudonyms_of_uniques(key: bytes, uniques: pd.Index | np.ndarray) -> pd.Index:
    """Return the pseudonym (24 letters a-p) of each distinct identifier, in the same order."""
    return _letters(prf_blocks(key, identifier_blocks(canonical_identifiers(uniques))))


def _person_codes(values: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """Codes per row into the distinct persons, however each CPR number is spelled.

    Only the values that occur are kept (a categorical may carry a larger dictionary).
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw_codes, raw_uniques = values.cat.codes.to_numpy(), values.cat.categories
        used = np.unique(raw_codes[raw_codes >= 0])
        position = np.full(len(raw_uniques) + 1, -1, dtype=np.int64)
        position[used] = np.arange(len(used))
        raw_codes, raw_uniques = position[raw_codes], raw_uniques[used]
    else:
        raw_codes, raw_uniques = pd.factorize(values, sort=False)
    canonical = canonical_identifiers(raw_uniques)
    if pc.count_distinct(canonical).as_py() == len(canonical):
        return raw_codes, canonical
    person_of_raw, persons = pd.factorize(pd.Series(pd.array(canonical, dtype="str")), sort=False)
    codes = np.where(raw_codes >= 0, person_of_raw[np.maximum(raw_codes, 0)], -1)
    return codes, pa.array(pd.Index(persons).array)


def pseudonymise(values: pd.Series, *, key: bytes) -> pd.Series:
    """Replace identifiers by pseudonyms, computing the PRF once per distinct identifier.

    Missing identifiers stay missing. The result is categorical (one dictionary entry per person).
    """
    codes, persons = _person_codes(values)
    categories = _letters(prf_blocks(key, identifier_blocks(persons)))
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=categories, validate=False),
        index=values.index,
        name=values.name,
    )


def day_offsets(values: pd.Series, *, key: bytes, max_days: int) -> np.ndarray:
    """Return a per-identifier day offset in [-max_days, max_days], stable under one key."""
    codes, persons = _person_codes(values)
    prf = prf_blocks(key, identifier_blocks(persons))
    as_int = prf[:, :8].copy().view("<u8").ravel()
    offsets = (as_int % np.uint64(2 * max_days + 1)).astype(np.int64) - max_days
    result = np.zeros(len(values), dtype=np.int64)
    present = codes >= 0
    result[present] = offsets[codes[present]]
    return result
