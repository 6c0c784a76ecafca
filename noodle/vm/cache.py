"""Reading the compiled-module cache `__noodlecache__/`: valid entries only, without the compiler.

For each module the cache keeps `NAME.nbc` (the verified module file) and
`NAME.nbi` (its image: the translation ready to link, see
:mod:`noodle.vm.image`).  An entry is used only while its source hash
matches the source, and every module it imports — transitively — is itself
unchanged, so a change deep in the import graph invalidates everything that
depends on it.  `noodle run app.nd` on an unchanged program links images
only, importing nothing of the compiler, msgspec, the verifier or the
translator.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    import os

from noodle.format.cache import cache_path, imports_valid, read_file
from noodle.format.hashing import source_hash


def read_cached(root: "str | os.PathLike[str]", name: str, source: str, _memo: dict | None = None):
    """The cached, verified ModuleFile for `name` if it is still valid for `source`; else None."""
    from noodle.errors import LoadError
    from noodle.format import module_file as mf
    from noodle.vm.verify import verify

    memo = {} if _memo is None else _memo
    if name in memo:
        return memo[name]
    memo[name] = None  # a cycle is never valid
    path = cache_path(root, name)
    data = read_file(path)
    if data is None:
        return None
    try:
        module = mf.decode(data, path)
        if module.source_hash != source_hash(source) or module.compiler != mf.compiler_id():
            return None  # another source, or another build of the compiler
        verify(module, path)
    except LoadError:
        return None  # a stale or damaged entry is simply rebuilt
    ok = imports_valid(root, [(i.module, i.hash) for i in module.imports],
                        lambda dep, src: read_cached(root, dep, src, memo) is not None)
    memo[name] = module if ok else None
    return memo[name]


def read_image(root: "str | os.PathLike[str]", name: str, source: str, _memo: dict | None = None):
    """The cached ModuleImage for `name` if it is still valid for `source`; else None."""
    from noodle.vm.image import ModuleImage

    memo = {} if _memo is None else _memo
    if name in memo:
        return memo[name]
    memo[name] = None
    data = read_file(cache_path(root, name, ".nbi"))
    image = ModuleImage.loads(data) if data is not None else None
    if image is None or image.source_hash != source_hash(source):
        return None
    ok = imports_valid(root, list(zip(image.imports, image.import_hashes)),
                        lambda dep, src: read_image(root, dep, src, memo) is not None)
    memo[name] = image if ok else None
    return memo[name]
