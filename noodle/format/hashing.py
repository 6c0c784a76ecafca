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


_fingerprint: str | None = None


def toolchain_fingerprint() -> str:
    """Identifies this build of Noodle: the files of its package (path, size, mtime).

    Cached modules and images record it, so a compiler or VM that changed — an
    upgrade, or a developer's edit — never runs what an older one produced.
    Costs one `stat` per source file of the package, once per process.  The backend
    libraries take part too: an image built while llvmlite was missing has no native
    part, and must be rebuilt once llvmlite is installed (or upgraded).
    """
    global _fingerprint
    if _fingerprint is None:
        import os

        # the version is in noodle/version.py, one of the files below: reading it is not needed
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        parts: list[str] = []
        stack = [root]
        while stack:
            folder = stack.pop()
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir() and not entry.name.startswith((".", "__")):
                    stack.append(entry.path)
                elif entry.name.endswith((".py", ".lark")):
                    st = entry.stat()
                    parts.append(f"{entry.path[len(root):]}:{st.st_size}:{st.st_mtime_ns}")
        parts += _backend_libraries()
        _fingerprint = blake2b("\n".join(parts).encode(), digest_size=8).hexdigest()
    return _fingerprint


def _backend_libraries() -> list[str]:
    """`name:mtime` of each optional backend library's package folder, or `name:absent`.

    Found with a few `stat` calls along sys.path rather than by importing it: importing
    llvmlite would cost every `noodle run` its start-up time.
    """
    import os
    import sys

    out = []
    for name in ("llvmlite",):
        for folder in sys.path:
            try:
                st = os.stat(os.path.join(folder or ".", name, "__init__.py"))
            except OSError:
                continue
            out.append(f"{name}:{st.st_mtime_ns}")
            break
        else:
            out.append(f"{name}:absent")
    return out
