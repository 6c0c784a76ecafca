"""The files of the compiled-module cache `__noodlecache__/`: where they live, reading and writing them.

For each module the cache keeps `NAME.nbc` (the verified module file) and `NAME.nbi` (its image:
the translation ready to link, see :mod:`noodle.vm.image`); Noodle's per-user cache folder holds
machine code and measured variant thresholds.  This module knows the layout and writes files
atomically; deciding whether an entry is still valid (verifying it, checking the hashes of its
imports) is :mod:`noodle.vm.cache`'s job.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Callable

from noodle.format.hashing import source_hash

CACHE_DIR = "__noodlecache__"


def user_cache_root() -> str:
    """Noodle's per-user cache folder: `$NOODLE_CACHE_DIR`, else `$XDG_CACHE_HOME/noodle`, else
    `~/.cache/noodle` (machine code and measured variant thresholds live under it)."""
    return os.environ.get("NOODLE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "noodle")


def identifier(text: str) -> str:
    """A file name as a module-name identifier: other characters become `_` (`my-app` → `my_app`)."""
    out = "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_" for ch in text) or "_"
    return "_" + out if out[0].isdigit() else out


def module_path(root: "str | os.PathLike[str]", name: str) -> str:
    """The source file of module `name` for a program at `root`: the first of the search roots
    (:mod:`noodle.format.search_path`) that holds it, else where it would be under `root`."""
    from noodle.format.search_path import ManifestError, find_module

    try:
        found = find_module(root, name)
    except ManifestError:
        found = None  # the compiler reports the manifest (see noodle.build.driver)
    return found or os.path.join(os.fspath(root), *name.split(".")) + ".nd"


def cache_path(root: "str | os.PathLike[str]", name: str, suffix: str = ".nbc") -> str:
    return os.path.join(os.fspath(root), CACHE_DIR, name + suffix)


def read_source(root: "str | os.PathLike[str]", name: str) -> str | None:
    try:
        with open(module_path(root, name), encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def read_file(path: str) -> bytes | None:
    """A cache file's bytes, or None when it is not there (or not readable)."""
    return _read_bytes(path)


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def imports_valid(root: "str | os.PathLike[str]", imports: list[tuple[str, str]],
                   entry_valid: Callable[[str, str], bool]) -> bool:
    for dep, recorded in imports:
        dep_source = read_source(root, dep)
        if dep_source is None or recorded != source_hash(dep_source):
            return False
        if not entry_valid(dep, dep_source):
            return False
    return True


def write_file(path: str, data: bytes) -> None:
    """Write a cache file atomically (a temporary file renamed into place); a failure is ignored."""
    _write(path, data)


def _write(path: str, data: bytes) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only source tree still runs, just without the cache


def write_cached(root: "str | os.PathLike[str]", name: str, module) -> None:
    from noodle.format import module_file as mf

    _write(cache_path(root, name), mf.encode(module))


def write_warnings(root: "str | os.PathLike[str]", name: str, warnings: list) -> None:
    """Keep a module's warnings (JSON objects with a `rendered` text) beside its cache entry, so a
    run from the cache shows them again; none: the file is removed."""
    import json

    path = cache_path(root, name, ".warn")
    if not warnings:
        try:
            os.remove(path)
        except OSError:
            pass
        return
    _write(path, json.dumps(warnings).encode("utf-8"))


def read_warnings(root: "str | os.PathLike[str]", name: str) -> list | None:
    """The warnings kept for a module's cache entry (valid while the entry is), or None."""
    data = _read_bytes(cache_path(root, name, ".warn"))
    if data is None:
        return None
    import json

    try:
        items = json.loads(data)
    except ValueError:
        return None
    return items if isinstance(items, list) and all(isinstance(w, dict) for w in items) else None


def write_image(root: "str | os.PathLike[str]", name: str, image) -> None:
    data = image.dumps()
    if data is not None:  # None: this user has no key to sign it with (noodle.vm.user_key)
        _write(cache_path(root, name, ".nbi"), data)
