"""The loader's check of the typed IR a `.nbc` carries: it must be the source of the verified bytecode.

Native code is built from a module's typed IR, not from its bytecode, so the IR
has to be proven to say what the verified bytecode says before anything is
made of it.  Two checks, both at load, both refusing with a one-line
:class:`LoadError`:

1. **Re-emission.**  The bytecode emitter is a function of the IR: emitting the
   decoded IR again must give exactly the module's bytecode — every function's
   code, operands, positions, locals, signature and kind; the constant and name
   pools; structs, globals, imports, tests, init and entry.  An IR taken from
   another module, or edited, emits other bytecode and is refused.  What the
   bytecode does not hold (a local's type, an expression's type) is covered by:
2. **Typing.**  Every function the native plan compiles is checked by
   :mod:`noodle.ir.typecheck`: each node's operand types, locals, results and
   Array kinds, as the lowering relies on them.

A module whose IR passes both runs natively exactly the functions its bytecode
defines; the native entry points also check the Arrays they are handed
(:mod:`noodle.backends.llvm`), since the bytecode of a crafted module is not
type-checked and could pass a `bool` Array where the IR declares `float`.
"""
from __future__ import annotations

from typing import Any

from noodle.errors import LoadError


#: the last modules checked and their IR (a module is verified when read, and again when built)
_CHECKED: "list[tuple[Any, bytes, Any]]" = []


def checked_ir(module: Any, path: str | None = None) -> Any:
    """The IR `check_ir` proved for this module (checked again if the module is new or changed)."""
    for mod, data, module_ir in _CHECKED:
        if mod is module and data is module.ir:
            return module_ir
    return check_ir(module, path)


def check_ir(module: Any, path: str | None = None) -> Any:
    """The decoded IR of a verified ModuleFile once proven consistent with its bytecode, or None
    when the module carries none; raises :class:`LoadError` otherwise."""
    if not module.ir:
        return None
    module_ir = _check(module, path)
    _CHECKED.append((module, module.ir, module_ir))
    del _CHECKED[:-8]
    return module_ir


def _check(module: Any, path: str | None) -> Any:
    from noodle.backends.bytecode.emitter import emit_module
    from noodle.ir.nodes import decode_module

    try:
        module_ir = decode_module(module.ir)
        again = emit_module(module_ir, module.source_hash)
    except LoadError:
        raise
    except RecursionError:
        raise LoadError("malformed typed IR: nested too deeply", path) from None
    except Exception as e:  # noqa: BLE001 - the IR is untrusted data: any failure to read it refuses it
        raise LoadError(f"malformed typed IR: {type(e).__name__}: {_short(e)}", path) from None
    difference = _difference(module, again)
    if difference is not None:
        raise LoadError(f"the typed IR does not match the bytecode ({difference})", path)
    _check_native_types(module_ir, path)
    return module_ir


def _short(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return text[:160]


def _difference(module: Any, again: Any) -> str | None:
    """Where the module's bytecode and the IR's re-emission differ, or None.

    Compared as encoded bytes: exact for every value (a float constant by its bits, so 0.0 and
    -0.0 differ and a nan equals itself), and for types (1 and 1.0 and true differ)."""
    from msgspec.msgpack import encode

    if (module.name, module.version) != (again.name, again.version):
        return "module name or version"
    if encode(module.consts) != encode(again.consts):
        return "constant pool"
    if module.names != again.names:
        return "name pool"
    if len(module.functions) != len(again.functions):
        return f"{len(again.functions)} functions, not {len(module.functions)}"
    for mine, theirs in zip(module.functions, again.functions):
        if encode(mine) != encode(theirs):
            return f"function {mine.name!r}"
    for what in ("structs", "globals", "tests", "init", "entry"):
        if encode(getattr(module, what)) != encode(getattr(again, what)):
            return what
    if [i.module for i in module.imports] != [i.module for i in again.imports]:
        return "imports"
    return None


def _check_native_types(module_ir: Any, path: str | None) -> None:
    from noodle.ir.native_plan import plan
    from noodle.ir.typecheck import IRTypeError, check_function

    fns = {f.name: f for f in module_ir.functions}
    if len(fns) != len(module_ir.functions):
        raise LoadError("malformed typed IR: two functions with one name", path)
    try:
        compiled = plan(module_ir).compiled
        for name in compiled:
            check_function(fns[name], fns)
    except IRTypeError as e:
        raise LoadError(f"the typed IR is not well typed: {e}", path) from None
    except RecursionError:
        raise LoadError("malformed typed IR: nested too deeply", path) from None
    except Exception as e:  # noqa: BLE001 - the planner reading untrusted IR
        raise LoadError(f"malformed typed IR: {type(e).__name__}: {_short(e)}", path) from None
