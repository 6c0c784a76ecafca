"""Text form of the IR (`noodlec --emit ir`): one statement a line, nested bodies indented."""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.types import resolve


def expr_text(e: ir.Expr) -> str:
    t = type(e).__name__
    if isinstance(e, ir.Const):
        return repr(e.value)
    if isinstance(e, ir.LocalGet):
        return f"%{e.slot}"
    if isinstance(e, ir.FreeGet):
        return f"^{e.up}.%{e.slot}"
    if isinstance(e, ir.GlobalGet):
        return f"@{e.name}"
    if isinstance(e, (ir.FuncRef, ir.Closure)):
        return f"{t.lower()} {e.name if isinstance(e, ir.FuncRef) else e.func}"
    if isinstance(e, ir.ModRef):
        return f"{e.module}::{e.name}"
    if isinstance(e, ir.Unary):
        return f"{e.op}{_skip(e.skip)}({expr_text(e.x)})"
    if isinstance(e, ir.Binary):
        return f"{e.op}{_skip(e.skip)}({expr_text(e.a)}, {expr_text(e.b)})"
    if isinstance(e, ir.Logical):
        return f"{e.op}({expr_text(e.a)}, {expr_text(e.b)})"
    if isinstance(e, ir.Cond):
        return f"select({expr_text(e.cond)}, {expr_text(e.then)}, {expr_text(e.otherwise)})"
    if isinstance(e, ir.Call):
        return f"call {e.func}({_list(e.args)})"
    if isinstance(e, ir.CallMod):
        return f"call {e.module}::{e.name}({_list(e.args)})"
    if isinstance(e, ir.CallValue):
        return f"call_value {expr_text(e.fn)}({_list(e.args)})"
    if isinstance(e, ir.CallBuiltin):
        return f"native {e.name}({_list(e.args)})"
    if isinstance(e, ir.New):
        return f"new {e.struct}({_list(e.args)})"
    if isinstance(e, ir.GetField):
        return f"{expr_text(e.obj)}.{e.field}"
    if isinstance(e, ir.TupleGet):
        return f"{expr_text(e.obj)}.{e.index}"
    if isinstance(e, (ir.ListLit, ir.TupleLit)):
        return f"{t[:-3].lower()}[{_list(e.items)}]"
    if isinstance(e, ir.MapLit):
        return "map{" + ", ".join(f"{expr_text(k)}: {expr_text(v)}" for k, v in zip(e.keys, e.values)) + "}"
    if isinstance(e, ir.Index):
        return f"{expr_text(e.obj)}[{expr_text(e.index)}]"
    if isinstance(e, ir.Slice):
        lo = expr_text(e.lo) if e.lo is not None else ""
        hi = expr_text(e.hi) if e.hi is not None else ""
        return f"{expr_text(e.obj)}[{lo}:{hi}]"
    if isinstance(e, ir.RangeLit):
        return f"range({expr_text(e.lo)}, {expr_text(e.hi)}{', inclusive' if e.inclusive else ''})"
    if isinstance(e, ir.Interp):
        return f"interp({_list(e.parts)})"
    return t


def _skip(bits: int) -> str:
    """Overflow checks the ranges pass proved unnecessary: `!lo`, `!hi`, or `!nocheck` for both."""
    return {0: "", 1: "!lo", 2: "!hi", 3: "!nocheck"}[bits]


def _list(es: list[ir.Expr]) -> str:
    return ", ".join(expr_text(x) for x in es)


def _typed(e: ir.Expr) -> str:
    return f"{expr_text(e)} : {resolve(e.ty)}"


def body_lines(body: list[ir.Stmt], depth: int) -> list[str]:
    pad = "  " * depth
    out: list[str] = []
    for s in body:
        loc = f"  ; line {s.line}" if s.line else ""
        if isinstance(s, ir.LocalSet):
            out.append(f"{pad}%{s.slot} = {_typed(s.value)}{loc}")
        elif isinstance(s, ir.FreeSet):
            out.append(f"{pad}^{s.up}.%{s.slot} = {_typed(s.value)}{loc}")
        elif isinstance(s, ir.GlobalSet):
            out.append(f"{pad}@{s.name} = {_typed(s.value)}{loc}")
        elif isinstance(s, ir.FieldSet):
            out.append(f"{pad}{expr_text(s.obj)}.{s.field} = {_typed(s.value)}{loc}")
        elif isinstance(s, ir.IndexSet):
            out.append(f"{pad}{expr_text(s.obj)}[{expr_text(s.index)}] = {_typed(s.value)}{loc}")
        elif isinstance(s, ir.ExprStmt):
            out.append(f"{pad}{_typed(s.expr)}{loc}")
        elif isinstance(s, ir.If):
            intent = f", intent {s.intent}: the fast variant, else the loops as written" if s.intent else ""
            out.append(f"{pad}if {expr_text(s.cond)} {{{loc}{intent}")
            out += body_lines(s.then, depth + 1)
            if s.otherwise:
                out.append(f"{pad}}} else {{")
                out += body_lines(s.otherwise, depth + 1)
            out.append(f"{pad}}}")
        elif isinstance(s, ir.While):
            out.append(f"{pad}while {expr_text(s.cond)} {{{loc}")
            out += body_lines(s.body, depth + 1)
            out.append(f"{pad}}}")
        elif isinstance(s, ir.ForRange):
            recognised = f", intent {s.intent}" if s.intent and s.intent != "nested" else ""
            note = f": {s.note}" if s.note else ""
            out.append(f"{pad}for %{s.slot} in range({expr_text(s.start)}, {expr_text(s.stop)}, "
                       f"{expr_text(s.step)}) {{{loc}{recognised}{note}")
            out += body_lines(s.body, depth + 1)
            out.append(f"{pad}}}")
        elif isinstance(s, ir.ForEach):
            out.append(f"{pad}for %{s.slot} in {_typed(s.iterable)} {{{loc}")
            out += body_lines(s.body, depth + 1)
            out.append(f"{pad}}}")
        elif isinstance(s, ir.Return):
            out.append(f"{pad}return" + (f" {_typed(s.value)}" if s.value is not None else "") + loc)
        elif isinstance(s, ir.Throw):
            out.append(f"{pad}throw {expr_text(s.value)}{loc}")
        elif isinstance(s, ir.TryCatch):
            out.append(f"{pad}try {{{loc}")
            out += body_lines(s.body, depth + 1)
            out.append(f"{pad}}} catch" + (f" %{s.slot}" if s.slot >= 0 else "") + " {")
            out += body_lines(s.handler, depth + 1)
            out.append(f"{pad}}}")
        elif isinstance(s, ir.Assert):
            out.append(f"{pad}assert {expr_text(s.cond)}, {expr_text(s.message)}{loc}")
        else:
            out.append(f"{pad}{type(s).__name__.lower()}{loc}")
    return out


def print_module(m: ir.Module) -> str:
    out = [f"module {m.name} version {m.version!r}  ; {m.file}"]
    for imp in m.imports:
        out.append(f"import {imp}")
    for s in m.structs:
        fields = ", ".join(f"{n}: {resolve(t)}" for n, t in zip(s.field_names, s.field_types))
        out.append(f"struct {s.name} {{ {fields} }}")
    for g in m.globals:
        kind = "const" if g.const else "var" if g.mutable else "let"
        out.append(f"global {kind} @{g.name}: {resolve(g.ty)}")
    for f in m.functions:
        params = ", ".join(f"%{i} {f.local_names[i]}: {resolve(f.local_types[i])}" for i in range(f.params))
        extra = f"  ; {f.kind}" + (f" in {f.parent}" if f.parent else "") + \
            (f" @{' @'.join(f.attributes)}" if f.attributes else "")
        out.append(f"\nfn {f.name}({params}) -> {resolve(f.ret)} {{{extra}")
        locals_ = [f"%{i} {n}: {resolve(t)}" for i, (n, t) in enumerate(zip(f.local_names, f.local_types))
                   if i >= f.params]
        if locals_:
            out.append("  ; locals " + ", ".join(locals_))
        out += body_lines(f.body, 1)
        out.append("}")
    for t in m.tests:
        out.append(f"test {t.name!r} -> {t.func}")
    return "\n".join(out) + "\n"
