"""A readable listing of a `.nbc` module, in the manner of CPython's `dis`.

::

    module demo  version 1.0.0
    ...
    function 1 'fib' (fn)
      signature: fn(int) -> int
      ...
       line:col    idx  instruction
          4:5        0  LOAD_LOCAL      0              ; n
          4:9        1  CONST           0              ; 2
          4:7        2  LT
          4:5        3  IF              6              ; to 6

Every operand is resolved in a trailing comment and indentation shows how
regions nest.  Driven by :data:`noodle.format.opcodes.OPS` like everything else
that reads bytecode.  Written to survive any module that passed
:func:`noodle.vm.verify.verify`, and it does its best (``?``) on others.
"""
from __future__ import annotations

from noodle.format import opcodes as _oc
from noodle.format.module_file import ModuleFile

__all__ = ["disassemble", "format_instruction"]

_W = _oc.WORDS_PER_INSTR


def _short(value: object, limit: int = 48) -> str:
    """repr, cut to `limit` characters."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - e.g. an int too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _at(seq: object, i: object) -> object:
    """seq[i] for an in-range non-negative int index, else None."""
    if type(i) is int and isinstance(seq, list) and 0 <= i < len(seq):
        return seq[i]
    return None


def _name_of(obj: object, attr: str = "name") -> str:
    v = getattr(obj, attr, None)
    return v if type(v) is str else "?"


def _ancestor(mf: ModuleFile, fn: object, up: object) -> object:
    """The function `up` levels out of `fn` (following parent links), or None."""
    if type(up) is not int or up < 0:
        return None
    for _ in range(up):
        fn = _at(mf.functions, getattr(fn, "parent", None))
        if fn is None:
            return None
    return fn


def _local(fn: object, slot: object) -> str:
    name = _at(getattr(fn, "local_names", None), slot)
    if type(name) is not str:
        return "?"
    nparams = getattr(fn, "nparams", 0)
    if type(slot) is int and type(nparams) is int and slot < nparams:
        return f"{name} (param)"
    return name


def _comment(mf: ModuleFile, fn: object, op: int, a: int, b: int, c: int) -> str:
    """What the operands of one instruction refer to."""
    info = _oc.OPS[op]
    parts: list[str] = []
    values = (a, b, c)
    kinds = info.operands
    for slot, kind in enumerate(kinds):
        v = values[slot]
        if kind == _oc.CONST:
            cv = _at(mf.consts, v)
            parts.append(_short(cv) if type(v) is int and 0 <= v < len(mf.consts) else "?")
        elif kind == _oc.LOCAL:
            if info.name == "CATCH" and not c:
                parts.append("(error not bound)")
            elif slot > 0 and kinds[slot - 1] == _oc.UP:
                owner = _ancestor(mf, fn, values[slot - 1])
                parts.append(f"{_local(owner, v)} of {_short(_name_of(owner))} ({values[slot - 1]} up)")
            else:
                parts.append(_local(fn, v))
        elif kind == _oc.GLOBAL:
            parts.append(_name_of(_at(mf.globals, v)))
        elif kind == _oc.FUNC:
            parts.append(_short(_name_of(_at(mf.functions, v))))
        elif kind == _oc.STRUCT:
            parts.append(_name_of(_at(mf.structs, v)))
        elif kind == _oc.FIELD:
            name = _at(mf.names, v)
            parts.append("." + name if type(name) is str else "?")
        elif kind == _oc.MODULE:
            parts.append(_name_of(_at(mf.imports, v), "module"))
        elif kind == _oc.NAME:
            name = _at(mf.names, v)
            name = name if type(name) is str else "?"
            if slot > 0 and kinds[slot - 1] == _oc.MODULE:
                # CALL_MOD / LOAD_MOD: qualify with the module, drop the separate module part
                if parts:
                    parts[-1] = f"{parts[-1]}.{name}"
                else:  # pragma: no cover
                    parts.append(name)
            elif info.name == "CALL_NATIVE":
                parts.append(f"native {name}")
            else:
                parts.append(_short(name))
        elif kind == _oc.TARGET:
            parts.append(f"to {v}")
    return ", ".join(parts)


def format_instruction(mf: ModuleFile, fn: object, index: int, indent: int = 0) -> str:
    """One listing line: ``  line:col  index  OPNAME  operands  ; comment``."""
    code = fn.code  # type: ignore[attr-defined]
    k = index * _W
    op, a, b, c = code[k], code[k + 1], code[k + 2], code[k + 3]
    line = _at(getattr(fn, "lines", None), index)
    col = _at(getattr(fn, "cols", None), index)
    where = f"{line if type(line) is int else '?'}:{col if type(col) is int else '?'}"
    if not (type(op) is int and 0 <= op < _oc.NUM_OPS):
        return f"{where:>9} {index:>6}  {'  ' * indent}<bad opcode {_short(op)}> {a} {b} {c}"
    info = _oc.OPS[op]
    shown = [str(v) for kind, v in zip(info.operands, (a, b, c)) if kind != _oc.NONE or v]
    text = f"{where:>9} {index:>6}  {'  ' * indent}{info.name:<15} {' '.join(shown):<12}"
    try:
        comment = _comment(mf, fn, op, a, b, c)
    except Exception:  # noqa: BLE001 - a listing never fails
        comment = "?"
    if comment:
        text += f"  ; {comment}"
    return text.rstrip()


def _function(mf: ModuleFile, fi: int, fn: object) -> list[str]:
    out: list[str] = []
    kind = getattr(fn, "kind", "?")
    flags = " exported" if getattr(fn, "exported", False) is True else ""
    display = getattr(fn, "display", "")
    shown_display = f"  display {_short(display)}" if type(display) is str and display != _name_of(fn) else ""
    out.append(f"function {fi} {_short(_name_of(fn))} ({kind}){flags}{shown_display}")
    out.append(f"  signature: {getattr(fn, 'signature', '?')}")
    parent = getattr(fn, "parent", -1)
    where = ""
    if type(parent) is int and parent >= 0:
        where = f", parent {parent} ({_short(_name_of(_at(mf.functions, parent)))})"
    out.append(f"  params {getattr(fn, 'nparams', '?')}, locals {getattr(fn, 'nlocals', '?')}, "
               f"depth {getattr(fn, 'depth', '?')}{where}")
    names = getattr(fn, "local_names", None)
    if isinstance(names, list) and names:
        out.append("  locals: " + ", ".join(f"{i} {_local(fn, i)}" for i in range(len(names))))
    code = getattr(fn, "code", None)
    if not isinstance(code, list):
        out.append("  <no code>")
        return out
    n = len(code) // _W
    out.append(f"{'line:col':>11} {'idx':>6}  instruction")
    depth = 0
    for i in range(n):
        op = code[i * _W]
        role = _oc.OPS[op].role if type(op) is int and 0 <= op < _oc.NUM_OPS else "expr"
        if role in ("mid", "close", "xmid", "xclose"):
            depth = max(depth - 1, 0)
        out.append("  " + format_instruction(mf, fn, i, depth))
        if role in ("open", "mid", "xopen", "xmid"):
            depth += 1
    return out


def disassemble(mf: ModuleFile) -> str:
    """The whole module as text."""
    out: list[str] = []
    out.append(f"module {getattr(mf, 'name', '?')}  version {getattr(mf, 'version', '?')}")
    out.append(f"  source {_short(getattr(mf, 'source_file', '?'))}  hash {getattr(mf, 'source_hash', '?')}"
               f"  compiler {_short(getattr(mf, 'compiler', '?'))}")
    fns = getattr(mf, "functions", [])
    init, entry = getattr(mf, "init", -1), getattr(mf, "entry", -1)
    text = f"  init {init} ({_short(_name_of(_at(fns, init)))})"
    if entry != -1:
        text += f"  entry {entry} ({_short(_name_of(_at(fns, entry)))})"
    else:
        text += "  no entry"
    ir = getattr(mf, "ir", b"")
    if isinstance(ir, bytes) and ir:
        text += f"  ir {len(ir)} bytes"
    out.append(text)

    def section(title: str, items: object, fmt) -> None:
        if not isinstance(items, list) or not items:
            return
        out.append(f"{title} ({len(items)}):")
        for i, item in enumerate(items):
            try:
                line = fmt(item)
            except Exception:  # noqa: BLE001
                line = "?"
            out.append(f"  {i:>5}  {line}")

    kinds = {int: "int", float: "float", str: "str", bool: "bool", type(None): "none"}
    section("constants", mf.consts, lambda v: f"{kinds.get(type(v), '?'):<6} {_short(v, 72)}")
    section("names", mf.names, lambda s: _short(s, 72))
    section("structs", mf.structs, lambda s: (
        f"{s.name}(" + ", ".join(f"{f}: {t}" for f, t in zip(s.fields, s.field_types)) + ")"
        + (" exported" if s.exported else "")))
    section("globals", mf.globals, lambda g: (
        f"{'var' if g.mutable else 'const'} {g.name}: {g.type}" + (" exported" if g.exported else "")))
    section("imports", mf.imports, lambda m: m.module + (f"  (version {m.version})" if m.version else ""))
    section("tests", mf.tests, lambda t: f"{_short(t.name)} -> function {t.func} "
                                          f"({_short(_name_of(_at(fns, t.func)))})")
    for fi, fn in enumerate(fns if isinstance(fns, list) else []):
        out.append("")
        try:
            out.extend(_function(mf, fi, fn))
        except Exception as e:  # noqa: BLE001 - a listing never fails
            out.append(f"  <cannot list function {fi}: {type(e).__name__}>")
    return "\n".join(out) + "\n"
