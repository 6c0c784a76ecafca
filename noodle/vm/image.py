"""Module images: a verified module, translated and compiled, ready to link.

An image is what the machine actually instantiates: the Python code object
translated from a verified `.nbc` module, plus the few tables linking needs
(natives, structs, imports, exported names, the line map for the Noodle
stack).  Building one costs a translation and a `compile()`; the compiled-
module cache keeps images next to the `.nbc` files (as CPython keeps `.pyc`
files next to sources) so that `noodle run` on an unchanged program loads
with `marshal` alone — no msgspec, no verifier, no translator imported.

An image file is only ever written by this VM from a module it verified; its
header carries the image format, the Python cache tag (marshal is specific to
the Python version) and a BLAKE2b digest, so a damaged or foreign file is
ignored and rebuilt, never loaded.
"""
from __future__ import annotations

import marshal
import sys
from types import CodeType
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any

from noodle.vm.hashing import digest, toolchain_fingerprint

IMAGE_MAGIC = b"\x89NBI\r\n\x1a\n"
IMAGE_FORMAT = 1


def _tag() -> bytes:
    """Image format, Python version (marshal is version-specific) and the build of Noodle that translated it."""
    tag = f"{IMAGE_FORMAT}:{sys.implementation.cache_tag}:{toolchain_fingerprint()}".encode()
    return (tag + b"\0" * 32)[:32]


class Function:
    __slots__ = ("index", "name", "display", "kind", "exported")

    def __init__(self, index: int, name: str, display: str, kind: str, exported: bool) -> None:
        self.index, self.name, self.display, self.kind, self.exported = index, name, display, kind, exported


class ModuleImage:
    """Everything needed to link and run one module."""

    __slots__ = ("name", "version", "source_file", "source_hash", "imports", "import_hashes", "code",
                 "linemap", "natives", "structs", "functions", "globals", "tests", "entry")

    def __init__(self, name: str, version: str, source_file: str, source_hash: str,
                 imports: list[str], import_hashes: list[str], code: CodeType,
                 linemap: dict[int, tuple[str, int, int]], natives: dict[str, str],
                 structs: list[tuple[str, tuple[str, ...], bool]], functions: list[Function],
                 globals_: list[tuple[str, bool]], tests: list[tuple[str, str]], entry: str | None) -> None:
        self.name, self.version, self.source_file, self.source_hash = name, version, source_file, source_hash
        self.imports, self.import_hashes = imports, import_hashes
        self.code, self.linemap, self.natives = code, linemap, natives
        self.structs, self.functions, self.globals = structs, functions, globals_
        self.tests, self.entry = tests, entry

    # -- the file form
    def dumps(self) -> bytes:
        payload = marshal.dumps((
            self.name, self.version, self.source_file, self.source_hash, self.imports, self.import_hashes,
            self.code, self.linemap, self.natives, self.structs,
            [(f.index, f.name, f.display, f.kind, f.exported) for f in self.functions],
            self.globals, self.tests, self.entry))
        return IMAGE_MAGIC + _tag() + digest(payload) + payload

    @staticmethod
    def loads(data: bytes) -> "ModuleImage | None":
        """The image in `data`, or None when it is damaged or from another VM or Python version."""
        head = len(IMAGE_MAGIC)
        if data[:head] != IMAGE_MAGIC or data[head:head + 32] != _tag():
            return None
        payload = data[head + 64:]
        if digest(payload) != data[head + 32:head + 64]:
            return None
        try:
            t: Any = marshal.loads(payload)
            (name, version, source_file, source_hash, imports, import_hashes, code, linemap, natives,
             structs, functions, globals_, tests, entry) = t
            return ModuleImage(name, version, source_file, source_hash, imports, import_hashes, code, linemap,
                               natives, structs, [Function(*f) for f in functions], globals_, tests, entry)
        except (ValueError, TypeError, EOFError):
            return None


def build_image(module: Any) -> ModuleImage:
    """Verify, translate and compile a :class:`~noodle.vm.module_file.ModuleFile`.

    Every module file goes through the verifier here, whether it was read from
    disk or just made by the compiler in this process: nothing is translated
    before it is validated, and a compiler bug surfaces as a LoadError rather
    than as generated code that misbehaves.
    """
    from noodle.errors import LoadError
    from noodle.vm.translate import translate_module
    from noodle.vm.verify import verify

    verify(module)

    source, linemap, natives = translate_module(module)
    filename = f"<noodle:{module.name}:{module.source_hash[:16]}>"
    import warnings

    try:
        with warnings.catch_warnings():  # a crafted module may compile to `5[0]`: a run-time error, not a warning
            warnings.simplefilter("ignore")
            code = compile(source, filename, "exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError) as e:
        raise LoadError(f"cannot translate bytecode: {type(e).__name__}: {e}") from None
    functions = [Function(i, f.name, f.display, f.kind, f.exported)
                 for i, f in enumerate(module.functions) if f.parent < 0]
    return ModuleImage(
        module.name, module.version, module.source_file, module.source_hash,
        [i.module for i in module.imports], [i.hash for i in module.imports], code, linemap, natives,
        [(s.name, tuple(s.fields), s.exported) for s in module.structs], functions,
        [(g.name, g.exported) for g in module.globals],
        [(t.name, module.functions[t.func].name) for t in module.tests],
        module.functions[module.entry].name if module.entry >= 0 else None)
