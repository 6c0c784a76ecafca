"""Calls: of functions, values, module members, struct constructors and natives; argument binding."""
from __future__ import annotations

from typing import TYPE_CHECKING

from noodle.compiler.hints import method_hint
from noodle.compiler import ast
from noodle.compiler.checker.base import ARRAY_PRELUDE, NativeModule
from noodle.compiler.diagnostics import did_you_mean
from noodle.compiler.scope import ModuleInterface, StructInfo, Var
from noodle.ir import nodes as ir
from noodle.ir.types import (
    ERROR, FLOAT, INT, NONE, PY, STR, UNKNOWN, FnT, ListT, MapT,
    ArrayT, StructT, TVar, Type, UnknownT, has_unbound, prune, undo, unify,
)
from noodle.stdlib import signatures as sigs

if TYPE_CHECKING:
    from noodle.compiler.checker import Checker


class CallRules:
    """Checker rules for calls (mixed into :class:`noodle.compiler.checker.Checker`)."""

    # ------------------------------------------------------------ calls

    def expr_Call(self: "Checker", e: ast.Call, expected: Type | None = None) -> ir.Expr:
        pos = self.pos(e.span)
        f = e.func
        if isinstance(f, ast.Name):
            name = f.id
            local = self.lookup_value_name(name)
            if local is None:
                if name in self.funcs:
                    info = self.funcs[name]
                    self.record_name(f.span, name, ("fn", self.name, info.name), "function")
                    ft = self.func_type(info, f.span)
                    args = self.bind_args(info.param_names, list(ft.params), [None] * len(ft.params), e, info.display,
                                          _defined(info.decl))
                    return ir.Call(func=info.name, args=args, ty=ft.ret, **pos)
                if name in self.structs:
                    self.record_name(f.span, name, ("struct", self.name, name), "struct")
                    return self.construct(self.structs[name], e, None)
                if name in self.from_names:
                    mod, member = self.from_names[name]
                    return self.call_module_member(mod, member, e, f.span)
                if name not in self.globals and name not in self.imports:
                    if name in ("print", "eprint"):
                        args = [self.expr(a.value) for a in e.args]
                        args = [self.stringify(a) if self.known(a.ty) == PY else a for a in args]
                        self.no_named(e)
                        return ir.CallBuiltin(name=name, args=args, ty=NONE, **pos)
                    if name == "str":
                        self.no_named(e)
                        if len(e.args) != 1:
                            self.error("E0201", f"`str` takes 1 argument, found {len(e.args)}", e.span)
                            return ir.Const(value=None, ty=UNKNOWN, **pos)
                        return self.stringify(self.expr(e.args[0].value))
                    if name in ARRAY_PRELUDE or name in ("sum", "len", "any", "all", "min", "max"):
                        arr = self.array_call(name, e, expected)
                        if arr is not None:
                            return arr
                    if name in sigs.PRELUDE:
                        return self.call_native(name, sigs.PRELUDE[name], [], e, expected)
        if isinstance(f, ast.Attribute):
            if isinstance(f.obj, ast.Name) and self.is_module_alias(f.obj.id):
                self.record_name(f.obj.span, f.obj.id, ("module", self.name, f.obj.id), "module")
                return self.call_module_member(self.imports[f.obj.id], f.name, e, f.name_span)
            obj = self.expr(f.obj)
            t = self.known(obj.ty)
            if t == PY:
                return self.py_call_attr(obj, f.name, e)
            if isinstance(t, StructT) and t != ERROR:
                info = self.struct_info(t)
                if info is not None and f.name in info.methods:
                    m = info.methods[f.name]
                    self.record_name(f.name_span, f.name, ("fn", info.module, f"{info.name}.{f.name}"), "method")
                    if info.module == self.name:
                        ft = self.func_type(m, f.span)
                        args = self.bind_args(m.param_names[1:], list(ft.params[1:]), [None] * (len(ft.params) - 1),
                                              e, m.display, _defined(m.decl))
                        return ir.Call(func=m.name, args=[obj] + args, ty=ft.ret, **pos)
                    ft = m.type
                    args = self.bind_args(m.param_names[1:], list(ft.params[1:]), [None] * (len(ft.params) - 1),
                                          e, m.display)
                    self.ensure_import(info.module)
                    return ir.CallMod(module=info.module, name=m.name, args=[obj] + args, ty=ft.ret, **pos)
            elif isinstance(t, ArrayT):
                return self.array_method(obj, t, f.name, e)
            elif isinstance(t, (ListT, MapT)) or t == STR:
                kind = "List" if isinstance(t, ListT) else "Map" if isinstance(t, MapT) else "str"
                ovs = sigs.METHODS.get((kind, f.name))
                if ovs is not None:
                    return self.call_native(f"{kind}.{f.name}", ovs, [obj], e, expected)
                methods = [m for (k, m) in sigs.METHODS if k == kind]
                self.error("E0202", f"{kind} has no method `{f.name}`", f.name_span, method_hint(kind, f.name, methods))
                for a in e.args:
                    self.expr(a.value)
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            elif t is None:
                self.error("E0204", "the type of this value is not known here", f.obj.span,
                           "annotate the variable or the lambda parameter")
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            callee = self.expr_Attribute(f) if not isinstance(t, UnknownT) else obj
        else:
            callee = self.expr(f)
        return self.call_value(callee, e)

    def lookup_value_name(self: "Checker", name: str) -> Var | None:
        """The local variable `name` names here (this function's or an enclosing one's), or None."""
        c = self.ctx
        while c is not None:
            v = c.lookup_local(name)
            if v is not None:
                return v
            c = c.parent
        return None

    def no_named(self: "Checker", e: ast.Call) -> None:
        for a in e.args:
            if a.name is not None:
                self.error("E0209", f"this function takes no named arguments (`{a.name}:`)", a.span)

    def call_value(self: "Checker", callee: ir.Expr, e: ast.Call) -> ir.Expr:
        pos = self.pos(e.span)
        t = self.known(callee.ty)
        if isinstance(t, UnknownT):
            for a in e.args:
                self.expr(a.value)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        if t == PY:
            return self.py_call(callee, e)
        if not isinstance(t, FnT):
            if t is None:
                self.error("E0204", "the type of this value is not known here", e.func.span)
            else:
                self.error("E0203", f"{self.tname(t)} is not callable", e.func.span)
            for a in e.args:
                self.expr(a.value)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        self.no_named(e)
        if len(e.args) != len(t.params):
            self.error("E0201", f"this function takes {len(t.params)} argument{'s' if len(t.params) != 1 else ''}, "
                                f"found {len(e.args)}", e.span)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        args = [self.coerce(self.expr(a.value, p), p, a.value.span, "this argument") for a, p in zip(e.args, t.params)]
        if isinstance(callee, ir.FuncRef):
            return ir.Call(func=callee.name, args=args, ty=t.ret, **pos)
        if isinstance(callee, ir.ModRef) and isinstance(callee.ty, FnT):
            return ir.CallMod(module=callee.module, name=callee.name, args=args, ty=t.ret, **pos)
        return ir.CallValue(fn=callee, args=args, ty=t.ret, **pos)

    def call_module_member(self: "Checker", mod: "ModuleInterface | NativeModule", member: str, e: ast.Call,
                           span: ast.Span) -> ir.Expr:
        pos = self.pos(e.span)
        if isinstance(mod, NativeModule):
            ovs = sigs.MODULES[mod.name].get(member)
            if ovs is None:
                self.error("E0401", f"module `{mod.name}` has no function `{member}`", span,
                           did_you_mean(member, self.module_members(mod)))
                for a in e.args:
                    self.expr(a.value)
                return ir.Const(value=None, ty=UNKNOWN, **pos)
            if mod.name == "parallel" and e.args:
                self.check_task_function(e.args[0].value, f"parallel.{member}")
            return self.call_native(f"{mod.name}.{member}", ovs, [], e, None)
        if member in mod.structs:
            self.record_name(span, member, ("struct", mod.name, member), "struct", exact=True)
            return self.construct(mod.structs[member], e, mod)
        if member in mod.functions:
            self.record_name(span, member, ("fn", mod.name, member), "function", exact=True)
            ft = mod.functions[member]
            names = mod.param_names.get(member) or [f"#{i}" for i in range(len(ft.params))]
            args = self.bind_args(names, list(ft.params),
                                  [None] * len(ft.params), e, f"{mod.name}.{member}")
            return ir.CallMod(module=mod.name, name=member, args=args, ty=ft.ret, **pos)
        return self.call_value(self.module_member(mod, member, span), e)

    def check_task_function(self: "Checker", f: ast.Expr, what: str) -> None:
        """`parallel` runs f in other processes, which find it by module and name: only a top-level
        function (of this module or an imported one) has such a name."""
        why = None
        if isinstance(f, ast.Lambda):
            why = "a lambda has no name another process could find it by"
        elif isinstance(f, ast.Name):
            if self.lookup_value_name(f.id) is not None:
                why = f"`{f.id}` is a local value: which function it holds is known only when it runs"
            if why is None and f.id not in self.funcs and f.id not in self.from_names:
                return  # not a function at all: the call's own type check says so
        elif isinstance(f, ast.Attribute):
            if isinstance(f.obj, ast.Name) and f.obj.id in self.imports \
                    and self.lookup_value_name(f.obj.id) is None:
                return  # module.function: a top-level function of an imported module
            why = "a method is bound to its object, which would have to travel with it"
        else:
            why = "this expression computes a function when the program runs"
        if why is not None:
            self.error("E0404", f"`{what}` needs a top-level function: {why}", f.span,
                       "define it with `fn NAME(...)` at the top level of a module and pass NAME")

    def bind_args(self: "Checker", names: list[str], types: list[Type], defaults: list, e: ast.Call, what: str,
                  defined: "list[tuple[ast.Span, str]] | None" = None) -> list[ir.Expr]:
        """Match positional and named arguments to parameters; fill defaults; coerce each to its type.
        `defined`: where the callee is declared, shown with an arity error (`note: defined here`)."""
        slots: list["ir.Expr | None"] = [None] * len(names)
        ok = True
        positional_done = False
        for i, a in enumerate(e.args):
            if a.name is None:
                if positional_done:
                    self.error("E0209", "a positional argument cannot follow a named one", a.span)
                    ok = False
                    continue
                if i >= len(names):
                    self.error("E0201", f"`{what}` takes {len(names)} argument{'s' if len(names) != 1 else ''}, "
                                        f"found {len(e.args)}", e.span, related=defined)
                    ok = False
                    break
                slots[i] = self.coerce(self.expr(a.value, types[i]), types[i], a.value.span, f"argument {i + 1} of `{what}`",
                                       defined)
            else:
                positional_done = True
                if a.name not in names:
                    self.error("E0209", f"`{what}` has no parameter named `{a.name}`", a.span,
                               did_you_mean(a.name, names))
                    ok = False
                    continue
                j = names.index(a.name)
                if slots[j] is not None:
                    self.error("E0209", f"`{a.name}` is given twice", a.span)
                    ok = False
                    continue
                slots[j] = self.coerce(self.expr(a.value, types[j]), types[j], a.value.span, f"`{a.name}`", defined)
        out: list[ir.Expr] = []
        missing = []
        for j, s in enumerate(slots):
            if s is None:
                d = defaults[j]
                if d is None:
                    missing.append(names[j])
                    continue
                if isinstance(d, ir.Const):
                    s = ir.Const(value=d.value, ty=d.ty, **self.pos(e.span))
                else:
                    s = self.coerce(self.expr(d, types[j]), types[j], d.span, f"the default of `{names[j]}`")
            out.append(s)
        if missing and ok:
            if all(n.startswith("#") for n in missing):
                self.error("E0201", f"`{what}` takes {len(names)} argument{'s' if len(names) != 1 else ''}, "
                                    f"found {len(e.args)}", e.span, related=defined)
            else:
                self.error("E0201" if not any(a.name for a in e.args) else "E0209",
                           f"`{what}` is missing {', '.join('`' + m + '`' for m in missing)}", e.span, related=defined)
        return out

    def construct(self: "Checker", info: StructInfo, e: ast.Call, mod: ModuleInterface | None) -> ir.Expr:
        pos = self.pos(e.span)
        if mod is not None:
            defaults = [d if isinstance(d, ir.Const) else None for d in info.defaults]
        else:
            # a default is checked where it is used: in the constructor call's context
            saved = self.ctx
            defaults = list(info.defaults)
            self.ctx = saved
        for a in e.args:
            if a.name is not None and a.name in info.field_names:
                self.record_name(a.span, a.name, ("field", info.module, info.name, a.name), "field")
        args = self.bind_args(info.field_names, list(info.field_types), defaults, e, info.name,
                              _defined(info.decl) if mod is None else None)
        if len(args) != len(info.field_names):
            return ir.Const(value=None, ty=info.ty, **pos)
        if mod is not None:
            return ir.CallMod(module=mod.name, name=info.name, args=args, ty=info.ty, **pos)
        return ir.New(struct=info.name, args=args, ty=info.ty, **pos)

    def call_native(self: "Checker", name: str, overloads: list[sigs.Overload], receiver: list[ir.Expr], e: ast.Call,
                    expected: Type | None) -> ir.Expr:
        """Pick the first overload the arguments fit, then check the arguments against it."""
        pos = self.pos(e.span)
        self.no_named(e)
        nargs = len(receiver) + len(e.args)
        candidates = [o for o in overloads if len(o.sig.params) == nargs]
        display = name.replace("List.", "list.").replace("Map.", "map.")
        if not candidates:
            counts = sorted({len(o.sig.params) - len(receiver) for o in overloads})
            want = " or ".join(str(c) for c in counts)
            self.error("E0201", f"`{display}` takes {want} argument{'s' if counts != [1] else ''}, found {len(e.args)}",
                       e.span)
            for a in e.args:
                self.expr(a.value)
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        # Check arguments that are not lambdas first; lambdas take their types from the chosen overload.
        pre: list[ir.Expr | None] = []
        for a in e.args:
            pre.append(None if isinstance(a.value, ast.Lambda) else self.expr(a.value))
        if not receiver and any(v is not None and self.known(v.ty) == PY for v in pre) and None not in pre:
            py = self.py_prelude(name, [v for v in pre if v is not None], e)
            if py is not None:
                return py
        chosen = None
        for o in candidates:
            sig = sigs.instantiate(o.sig)
            trail: list = []
            fits = True
            values = receiver + pre
            for v, p in zip(values, sig.params):
                if v is None:
                    continue
                have, want = prune(v.ty), prune(p)
                if want == FLOAT and have == INT:
                    continue
                if have == PY and self.convertible(want):  # converted (and checked) at run time
                    continue
                if isinstance(have, TVar) and not isinstance(want, TVar) and len(candidates) > 1:
                    pass
                if not unify(have, want, trail):
                    fits = False
                    break
            if fits:
                chosen = (o, sig)
                break
            undo(trail)
        if chosen is None:
            o = candidates[0]
            sig = sigs.instantiate(o.sig)
            got = ", ".join(self.tname(v.ty) for v in receiver + [p for p in pre if p is not None])
            options = "; ".join(str(c.sig) for c in candidates)
            self.error("E0200", f"no form of `{display}` takes ({got})", e.span,
                       f"{display} is: {options}" if len(candidates) > 1 else f"{display} is {options}")
            return ir.Const(value=None, ty=UNKNOWN, **pos)
        o, sig = chosen
        args: list[ir.Expr] = list(receiver)
        for i, a in enumerate(e.args):
            p = sig.params[len(receiver) + i]
            v = pre[i] if pre[i] is not None else self.expr(a.value, p)
            args.append(self.coerce(v, p, a.value.span, f"argument {i + 1} of `{display}`"))
        if o.native in ("sum.int", "sum.float", "min1", "max1", "sorted", "sorted.key"):
            elem = self.known(args[0].ty)
            if isinstance(elem, ListT) and self.known(elem.elem) is None:
                self.error("E0204", "the element type of this list is not known here", e.args[0].value.span
                           if e.args else e.span)
        if o.native in ("min1", "max1", "sorted", "sorted.key", "list.sort"):
            # these compare elements (or sort keys) with `<`: the values must be orderable
            what, ordered = "elements", None
            lst = self.known(args[0].ty)
            if isinstance(lst, ListT):
                ordered = lst.elem
            if o.native == "sorted.key":
                what, key = "keys", self.known(args[1].ty)
                ordered = key.ret if isinstance(key, FnT) else None
            if ordered is not None and not has_unbound(ordered) and not isinstance(prune(ordered), UnknownT) \
                    and not self.orderable(ordered):
                self.error("E0205", f"`{display}` compares its {what} with `<`, which is not defined for "
                                    f"{self.tname(ordered)}", e.span,
                           "int, float, str, bool and tuples and lists of them are ordered; "
                           "order other values by a key, e.g. `sorted(xs, x => x.name)`")
        return ir.CallBuiltin(name=o.native, args=args, ty=sig.ret, **pos)


def _defined(decl: object) -> "list[tuple[ast.Span, str]] | None":
    """`[(span of the declaration's name, "defined here")]` for a declaration of this module."""
    if decl is None:
        return None
    span = getattr(decl, "name_span", None) or getattr(decl, "span", None)
    return [(span, "defined here")] if span is not None else None
