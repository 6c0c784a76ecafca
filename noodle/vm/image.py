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
the Python version) and a MAC keyed with this user's secret
(:mod:`noodle.vm.user_key`), so a damaged file, or one this user's toolchain
did not write, is ignored and rebuilt, never loaded.
"""
from __future__ import annotations

import marshal
import sys
from types import CodeType
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any

from noodle.format.hashing import toolchain_fingerprint

IMAGE_MAGIC = b"\x89NBI\r\n\x1a\n"
IMAGE_FORMAT = 1


def _tag() -> bytes:
    """Image format, Python version (marshal is version-specific) and the build of Noodle that translated it."""
    tag = f"{IMAGE_FORMAT}:{sys.implementation.cache_tag}:{toolchain_fingerprint()}".encode()
    return (tag + b"\0" * 32)[:32]


class Function:
    __slots__ = ("index", "name", "display", "kind", "exported", "signature", "digest")

    def __init__(self, index: int, name: str, display: str, kind: str, exported: bool, signature: str = "",
                 digest: str = "") -> None:
        self.index, self.name, self.display, self.kind, self.exported = index, name, display, kind, exported
        #: type text, and a hash of the code (with its lambdas) that tells a changed function in an upgrade
        self.signature, self.digest = signature, digest


class ModuleImage:
    """Everything needed to link and run one module."""

    __slots__ = ("name", "version", "source_file", "source_hash", "imports", "import_hashes", "code",
                 "linemap", "natives", "structs", "functions", "globals", "tests", "entry", "metered", "exports",
                 "uses", "native", "pysource")

    def __init__(self, name: str, version: str, source_file: str, source_hash: str,
                 imports: list[str], import_hashes: list[str], code: CodeType,
                 linemap: dict[int, tuple[str, int, int]], natives: dict[str, str],
                 structs: list[tuple[str, tuple[str, ...], bool]], functions: list[Function],
                 globals_: list[tuple[str, bool, str]], tests: list[tuple[str, str]], entry: str | None,
                 metered: bool = False, exports: dict[str, str] | None = None,
                 uses: dict[str, list[str]] | None = None, native: Any = None, pysource: str = "") -> None:
        self.name, self.version, self.source_file, self.source_hash = name, version, source_file, source_hash
        self.imports, self.import_hashes = imports, import_hashes
        self.code, self.linemap, self.natives = code, linemap, natives
        self.structs, self.functions, self.globals = structs, functions, globals_
        self.tests, self.entry = tests, entry
        #: translated with step and depth counting (for a VM with limits)
        self.metered = metered
        #: exported name -> its type text (a function's signature, a global's or struct's type)
        self.exports = exports or {}
        #: imported module -> the exported names this module uses from it
        self.uses = uses or {}
        #: functions that can run as native code: (LLVM IR text, entries), see noodle.backends.llvm
        self.native = native
        #: the generated Python source (an error's stack reads the columns of calls from it)
        self.pysource = pysource

    # -- the file form
    def dumps(self) -> bytes | None:
        """The file form, or None when this user has no key to sign it with (then it is not cached)."""
        from noodle.vm.user_key import mac

        payload = marshal.dumps((
            self.name, self.version, self.source_file, self.source_hash, self.imports, self.import_hashes,
            self.code, self.linemap, self.natives, self.structs,
            [(f.index, f.name, f.display, f.kind, f.exported, f.signature, f.digest) for f in self.functions],
            self.globals, self.tests, self.entry, self.metered, self.exports, self.uses, self.native,
            self.pysource))
        tag = _tag()
        signature = mac(tag + payload)
        return None if signature is None else IMAGE_MAGIC + tag + signature + payload

    @staticmethod
    def loads(data: bytes) -> "ModuleImage | None":
        """The image in `data`, or None when it is damaged, from another VM or Python version, or
        not written by this user's toolchain (its MAC does not check with this user's key)."""
        from noodle.vm.user_key import compare_digest, mac

        head = len(IMAGE_MAGIC)
        tag = _tag()
        if data[:head] != IMAGE_MAGIC or data[head:head + 32] != tag:
            return None
        payload = data[head + 64:]
        signature = mac(tag + payload)
        if signature is None or not compare_digest(signature, data[head + 32:head + 64]):
            return None
        try:
            t: Any = marshal.loads(payload)
            (name, version, source_file, source_hash, imports, import_hashes, code, linemap, natives,
             structs, functions, globals_, tests, entry, metered, exports, uses, native, pysource) = t
            return ModuleImage(name, version, source_file, source_hash, imports, import_hashes, code, linemap,
                               natives, structs, [Function(*f) for f in functions], globals_, tests, entry,
                               metered, exports, uses, native, pysource)
        except (ValueError, TypeError, EOFError):
            return None


def build_image(module: Any, metered: bool = False, cells: bool = False, native: bool = True) -> ModuleImage:
    """Verify, translate and compile a :class:`~noodle.format.module_file.ModuleFile`.

    Every module file goes through the verifier here, whether it was read from
    disk or just made by the compiler in this process: nothing is translated
    before it is validated, and a compiler bug surfaces as a LoadError rather
    than as generated code that misbehaves.

    `cells`: translate for a REPL session, whose versions share one cell per variable and
    function (:class:`noodle.vm.translate.Translator`); `native=False` plans no native code.
    """
    from noodle.errors import LoadError
    from noodle.vm.translate import translate_module
    from noodle.vm.verify import verify
    from noodle.vm.verify_ir import checked_ir

    verify(module)  # the bytecode, and the typed IR native code is built from against it
    module_ir = checked_ir(module)

    source, linemap, natives = translate_module(module, metered, cells)
    tag = "".join(c for c in module.source_hash[:16] if c.isascii() and c.isalnum())  # the file says; keep it tame
    filename = f"<noodle:{module.name}:{tag}{':m' if metered else ''}>"
    import warnings

    try:
        with warnings.catch_warnings():  # a crafted module may compile to `5[0]`: a run-time error, not a warning
            warnings.simplefilter("ignore")
            code = compile(source, filename, "exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError) as e:
        raise LoadError(f"cannot translate bytecode: {type(e).__name__}: {e}") from None
    functions = [Function(i, f.name, f.display, f.kind, f.exported, f.signature, code_digest(module, i))
                 for i, f in enumerate(module.functions) if f.parent < 0]
    return ModuleImage(
        module.name, module.version, module.source_file, module.source_hash,
        [i.module for i in module.imports], [i.hash for i in module.imports], code, linemap, natives,
        [(s.name, tuple(s.fields), s.exported) for s in module.structs], functions,
        [(g.name, g.exported, g.type) for g in module.globals],
        [(t.name, module.functions[t.func].name) for t in module.tests],
        module.functions[module.entry].name if module.entry >= 0 else None,
        metered, export_types(module), imported_uses(module),
        None if module_ir is None or not native else _native_part(module, module_ir), source)


def _native_part(module: Any, module_ir: Any) -> Any:
    """What of the module can run natively (llvmlite backend): (LLVM IR, entries, refused), see
    noodle.backends.llvm.native_part; None when nothing, or no llvmlite.

    The backend keeps a function it cannot lower in the VM on its own; a failure of the backend as a
    whole leaves the module in the VM, its reason kept (under the name "") for the machine's report."""
    try:
        from noodle.vm.native import native_part
        return native_part(module, module_ir)
    except Exception as e:  # noqa: BLE001 - a backend failure only means the VM runs everything
        return ("", [], {"": f"{type(e).__name__}: {e}"})


def code_digest(module: Any, index: int) -> str:
    """A hash of what a function does: its code with every operand resolved to what it names
    (constants, names, callees, lambdas' code), so recompiling unchanged code gives the same hash."""
    from noodle.format import opcodes as oc
    from noodle.format.hashing import blake2b

    f = module.functions[index]
    parts = [f.signature, str(f.nparams), str(f.nlocals)]
    code = f.code
    for i in range(0, len(code), 4):
        info = oc.OPS[code[i]]
        words = [info.name]
        for kind, v in zip(info.operands, code[i + 1:i + 4]):
            if kind == oc.CONST:
                c = module.consts[v]
                words.append(f"{type(c).__name__}:{c!r}")
            elif kind in (oc.NAME, oc.FIELD):
                words.append(module.names[v])
            elif kind == oc.GLOBAL:
                words.append("g:" + module.globals[v].name)
            elif kind == oc.STRUCT:
                words.append("s:" + module.structs[v].name)
            elif kind == oc.MODULE:
                words.append("m:" + module.imports[v].module)
            elif kind == oc.FUNC:
                callee = module.functions[v]
                words.append("f:" + (code_digest(module, v) if callee.kind == "lambda" else callee.name))
            else:
                words.append(str(v))
        parts.append(" ".join(words))
    return blake2b("\n".join(parts).encode(), digest_size=12).hexdigest()


def export_types(module: Any) -> dict[str, str]:
    """What a module exports, with type texts: the contract its importers compiled against."""
    out: dict[str, str] = {}
    for f in module.functions:
        if f.exported and f.kind in ("fn", "method"):
            out[f.name] = f.signature
    for g in module.globals:
        if g.exported:
            out[g.name] = g.type
    for s in module.structs:
        if s.exported:
            out[s.name] = "struct {" + ", ".join(f"{n}: {t}" for n, t in zip(s.fields, s.field_types)) + "}"
    return out


def imported_uses(module: Any) -> dict[str, list[str]]:
    """For each imported module, the names this module's bytecode takes from it."""
    from noodle.format.opcodes import Op

    load_mod, call_mod = Op.LOAD_MOD.value, Op.CALL_MOD.value
    uses: dict[str, set[str]] = {}
    for f in module.functions:
        code = f.code
        for i in range(0, len(code), 4):
            if code[i] == load_mod or code[i] == call_mod:
                uses.setdefault(module.imports[code[i + 1]].module, set()).add(module.names[code[i + 2]])
    return {k: sorted(v) for k, v in uses.items()}
