"""Where `import a.b` looks: the source root, then the project's dependency roots, then NOODLE_PATH.

A project lists the roots of the code it shares with other projects in a manifest,
`noodle.toml`, in its source root or any folder above it (the nearest one counts):

    [dependencies]
    roots = ["../shared", "/opt/noodle/lib"]   # relative to the manifest's folder

`NOODLE_PATH` adds roots for every program (separated by `:`, `;` on Windows).  The first root
holding `a/b.nd` wins, so a program's own modules shadow shared ones.  Kept free of the compiler:
the VM's fast start resolves imports with it too.
"""
from __future__ import annotations

import os

MANIFEST = "noodle.toml"

_cache: dict[tuple[str, str], tuple[str, ...]] = {}


class ManifestError(ValueError):
    """A `noodle.toml` that cannot be read as a manifest."""


def manifest_for(root: str) -> str | None:
    """The nearest `noodle.toml` at or above `root`."""
    folder = os.path.abspath(root)
    while True:
        candidate = os.path.join(folder, MANIFEST)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def manifest_roots(manifest: str) -> list[str]:
    """The dependency roots a manifest lists, made absolute."""
    import tomllib

    try:
        with open(manifest, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ManifestError(f"{manifest}: {e}") from None
    roots = data.get("dependencies", {}).get("roots", [])
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise ManifestError(f"{manifest}: [dependencies] roots must be a list of folder names")
    base = os.path.dirname(manifest)
    return [os.path.normpath(os.path.join(base, os.path.expanduser(r))) for r in roots]


def search_roots(root: "str | os.PathLike[str]") -> tuple[str, ...]:
    """Every root an import from a program at `root` searches, in order (the program's own first)."""
    root = os.fspath(root)
    env = os.environ.get("NOODLE_PATH", "")
    key = (os.path.abspath(root), env)
    found = _cache.get(key)
    if found is None:
        roots = [root]
        manifest = manifest_for(root)
        if manifest is not None:
            roots += manifest_roots(manifest)
        roots += [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
        found = _cache[key] = tuple(dict.fromkeys(roots))
    return found


def find_module(root: "str | os.PathLike[str]", name: str) -> str | None:
    """The file of module `name` for a program at `root`, or None when no root holds it."""
    rel = os.path.join(*name.split(".")) + ".nd"
    for r in search_roots(root):
        path = os.path.join(r, rel)
        if os.path.isfile(path):
            return path
    return None
