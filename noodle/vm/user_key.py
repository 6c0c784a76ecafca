"""This user's secret key, which signs the cache images this user's toolchain writes.

A cache image (`__noodlecache__/NAME.nbi`) is marshalled Python code that runs
without the verifier: the one thing that makes it safe to run is that this
user's own toolchain wrote it, from a module it verified.  So every image is
keyed: its MAC is BLAKE2b in keyed mode with a 32-byte secret kept in the
user's cache folder (`<cache>/image.key`, created on first use with mode 0600
in a folder of mode 0700).  An image in a checkout someone else prepared, or
copied from another account or machine, fails the MAC and is a cache miss:
the module is verified and translated again.

A key file that is not this user's, is readable by others, or has the wrong
size is not used: no image is trusted or written then (every start verifies
and translates; nothing else changes).
"""
from __future__ import annotations

import os

try:  # constant-time comparison without importing hmac (which loads OpenSSL: ~15 ms on every start)
    from _operator import _compare_digest as compare_digest
except ImportError:  # pragma: no cover - other Pythons
    from hmac import compare_digest

KEY_FILE = "image.key"
KEY_SIZE = 32

_key: bytes | None = None
_loaded = False


def _cache_root() -> str:
    from noodle.format.cache import user_cache_root

    return user_cache_root()


def image_key() -> bytes | None:
    """The secret (read or created once per process), or None when there is none that can be trusted."""
    global _key, _loaded
    if not _loaded:
        _key = _read_or_create(os.path.join(_cache_root(), KEY_FILE))
        _loaded = True
    return _key


def forget() -> None:
    """Read the key again on next use (tests that switch cache folders)."""
    global _key, _loaded
    _key, _loaded = None, False


def _private(st: os.stat_result) -> bool:
    owner = getattr(os, "getuid", None)
    return (owner is None or st.st_uid == owner()) and st.st_mode & 0o077 == 0


def _read(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        if not _private(os.fstat(fd)):
            return None
        data = os.read(fd, KEY_SIZE + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) == KEY_SIZE else None


def _read_or_create(path: str) -> bytes | None:
    key = _read(path)
    if key is not None or os.path.lexists(path):
        return key
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, os.urandom(KEY_SIZE))
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic and exclusive: two first runs agree on one key
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    except OSError:
        return None  # a read-only home: images are neither trusted nor written
    return _read(path)


def mac(data: bytes) -> bytes | None:
    """The keyed digest of `data`, or None when there is no key."""
    key = image_key()
    if key is None:
        return None
    from noodle.format.hashing import blake2b

    return blake2b(data, key=key, digest_size=32).digest()
