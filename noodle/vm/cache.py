"""The compiled-module cache `__noodlecache__/`, readable without the compiler.

`noodle run app.nd` with a warm cache must start about as fast as Python, so
checking and loading a cached module lives here on the VM side and imports
nothing of the front end.  A cached module is used only while its source
hash, and the source hashes of the modules it imports, still match.
"""
from __future__ import annotations

import os
from pathlib import Path

from noodle.vm import module_file as mf
from noodle.vm.module_file import LoadError, ModuleFile, source_hash

CACHE_DIR = "__noodlecache__"


def module_path(root: Path, name: str) -> Path:
    return root.joinpath(*name.split(".")).with_suffix(".nd")


def cache_path(root: Path, name: str) -> Path:
    return root / CACHE_DIR / f"{name}.nbc"


def read_cached(root: Path, name: str, source: str) -> ModuleFile | None:
    """The cached, verified module for `name` if it is still valid for `source`; else None."""
    from noodle.vm.verify import verify

    path = cache_path(root, name)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        module = mf.decode(data, str(path))
        if module.source_hash != source_hash(source):
            return None
        verify(module, str(path))
    except LoadError:
        return None  # a stale or damaged entry is simply rebuilt
    for imp in module.imports:
        try:
            dep_source = module_path(root, imp.module).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if imp.hash != source_hash(dep_source):
            return None
    return module


def write_cached(root: Path, name: str, module: ModuleFile) -> None:
    path = cache_path(root, name)
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(mf.encode(module))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only source tree still runs, just without the cache
