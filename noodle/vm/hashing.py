"""Hashes used by module files, images and the cache (BLAKE2b, imported without OpenSSL)."""
from __future__ import annotations

try:  # CPython's own BLAKE2; importing hashlib would load OpenSSL first, a cost on every start
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - other Pythons
    from hashlib import blake2b


def digest(data: bytes) -> bytes:
    """32-byte integrity digest of a file payload."""
    return blake2b(data, digest_size=32).digest()


def source_hash(text: str) -> str:
    """The hash recorded in a module to tell whether its source changed."""
    return blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
