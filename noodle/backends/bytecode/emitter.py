"""The bytecode emitter: typed IR → a `.nbc` :class:`ModuleFile`.

Each IR function becomes a stack-machine code list whose control flow keeps
the IR's structure (see :mod:`noodle.format.opcodes`); every instruction records
the source line and column of the IR node it came from, which is how run-time
errors point back at the source.
"""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.types import FLOAT, INT, prune, resolve
from noodle.format import module_file as mf
from noodle.format.opcodes import BINARY_OPS, UNARY_OPS, Op

#: items of a list literal (parts of an interpolated string) built in one instruction: well under
#: MAX_STACK, so a literal nested in a call's arguments or another literal still fits
LITERAL_CHUNK = 256


class _Pools:
    def __init__(self) -> None:
        self.consts: list[mf.Constant] = []
        self._const_ix: dict[tuple, int] = {}
        self.names: list[str] = []
        self._name_ix: dict[str, int] = {}

    def const(self, v: mf.Constant) -> int:
        # floats by their text: 0.0 and -0.0 (equal as numbers) and nan (unequal to itself) stay apart
        key = (type(v).__name__, repr(v) if isinstance(v, float) else v)
        if key not in self._const_ix:
            self._const_ix[key] = len(self.consts)
            self.consts.append(v)
        return self._const_ix[key]

    def name(self, s: str) -> int:
        if s not in self._name_ix:
            self._name_ix[s] = len(self.names)
            self.names.append(s)
        return self._name_ix[s]


class _FunctionEmitter:
    def __init__(self, mod: "ModuleEmitter", fn: ir.Function) -> None:
        self.mod = mod
        self.fn = fn
        self.code: list[int] = []
        self.lines: list[int] = []
        self.cols: list[int] = []
        self.line, self.col = fn.line, fn.col

    # -- instruction output
    def emit(self, op: Op, a: int = 0, b: int = 0, c: int = 0) -> int:
        index = len(self.lines)
        self.code += (op.value, a, b, c)
        self.lines.append(self.line)
        self.cols.append(self.col)
        return index

    def patch(self, index: int, operand: int, value: int) -> None:
        self.code[index * 4 + 1 + operand] = value

    def here(self) -> int:
        return len(self.lines)

    def at(self, node: ir.Node) -> None:
        if node.line:
            self.line, self.col = node.line, node.col

    # -- statements
    def body(self, stmts: list[ir.Stmt]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: ir.Stmt) -> None:
        self.at(s)
        m = self.mod
        if isinstance(s, ir.LocalSet):
            self.expr(s.value)
            self.at(s)
            self.emit(Op.STORE_LOCAL, s.slot)
        elif isinstance(s, ir.FreeSet):
            self.expr(s.value)
            self.at(s)
            self.emit(Op.STORE_FREE, s.up, s.slot)
        elif isinstance(s, ir.GlobalSet):
            self.expr(s.value)
            self.at(s)
            self.emit(Op.STORE_GLOBAL, m.global_ix[s.name])
        elif isinstance(s, ir.FieldSet):  # the value first, then the target (Python's order)
            self.expr(s.value)
            self.expr(s.obj)
            self.at(s)
            self.emit(Op.SET_FIELD, m.pools.name(s.field))
        elif isinstance(s, ir.IndexSet):
            self.expr(s.value)
            self.expr(s.obj)
            self.expr(s.index)
            self.at(s)
            self.emit(Op.STORE_INDEX)
        elif isinstance(s, ir.ExprStmt):
            self.expr(s.expr)
            self.emit(Op.POP)
        elif isinstance(s, ir.If):
            self.expr(s.cond)
            self.at(s)
            j = self.emit(Op.IF)
            self.body(s.then)
            if s.otherwise:
                e = self.emit(Op.ELSE)
                self.patch(j, 0, e)
                self.body(s.otherwise)
                end = self.emit(Op.END)
                self.patch(e, 0, end)
            else:
                end = self.emit(Op.END)
                self.patch(j, 0, end)
        elif isinstance(s, ir.While):
            j = self.emit(Op.LOOP)
            if not (isinstance(s.cond, ir.Const) and s.cond.value is True):
                self.expr(s.cond)
                self.at(s)
                self.emit(Op.BREAK_IF_FALSE)
            self.body(s.body)
            self.patch(j, 0, self.emit(Op.END))
        elif isinstance(s, ir.ForRange):
            self.expr(s.start)
            self.expr(s.stop)
            self.expr(s.step)
            self.at(s)
            j = self.emit(Op.FOR_RANGE, s.slot)
            self.body(s.body)
            self.patch(j, 1, self.emit(Op.END))
        elif isinstance(s, ir.ForEach):
            self.expr(s.iterable)
            self.at(s)
            j = self.emit(Op.FOR_EACH, s.slot)
            self.body(s.body)
            self.patch(j, 1, self.emit(Op.END))
        elif isinstance(s, ir.Break):
            self.emit(Op.BREAK)
        elif isinstance(s, ir.Continue):
            self.emit(Op.CONTINUE)
        elif isinstance(s, ir.Return):
            if s.value is None:
                self.emit(Op.RETURN_NONE)
            else:
                self.expr(s.value)
                self.at(s)
                self.emit(Op.RETURN)
        elif isinstance(s, ir.Throw):
            self.expr(s.value)
            self.at(s)
            self.emit(Op.THROW)
        elif isinstance(s, ir.TryCatch):
            t = self.emit(Op.TRY)
            self.body(s.body)
            self.at(s)
            c = self.emit(Op.CATCH, max(s.slot, 0), 0, 1 if s.slot >= 0 else 0)
            self.patch(t, 0, c)
            self.body(s.handler)
            self.patch(c, 1, self.emit(Op.END))
        elif isinstance(s, ir.Assert):
            self.expr(s.cond)
            self.expr(s.message)
            self.at(s)
            self.emit(Op.ASSERT)
        else:  # pragma: no cover - the IR verifier rules this out
            raise TypeError(f"cannot emit {type(s).__name__}")

    # -- expressions
    def expr(self, e: ir.Expr) -> None:
        m = self.mod
        self.at(e)
        if isinstance(e, ir.Const):
            self.emit(Op.CONST, m.pools.const(e.value))
        elif isinstance(e, ir.LocalGet):
            self.emit(Op.LOAD_LOCAL, e.slot)
        elif isinstance(e, ir.FreeGet):
            self.emit(Op.LOAD_FREE, e.up, e.slot)
        elif isinstance(e, ir.GlobalGet):
            self.emit(Op.LOAD_GLOBAL, m.global_ix[e.name])
        elif isinstance(e, ir.FuncRef):
            self.emit(Op.LOAD_FUNC, m.func_ix[e.name])
        elif isinstance(e, ir.ModRef):
            self.emit(Op.LOAD_MOD, m.import_ix[e.module], m.pools.name(e.name))
        elif isinstance(e, ir.Unary):
            self.expr(e.x)
            self.at(e)
            if e.op == "to_str" and prune(e.x.ty) in (INT, FLOAT):
                self.emit(Op.I2S if prune(e.x.ty) == INT else Op.F2S)  # the VM formats these without dispatch
            else:
                self.emit(UNARY_OPS[e.op], e.skip)
        elif isinstance(e, ir.Binary):
            self.expr(e.a)
            self.expr(e.b)
            self.at(e)
            self.emit(BINARY_OPS[e.op], e.skip)
        elif isinstance(e, ir.Logical):
            self.expr(e.a)
            self.at(e)
            j = self.emit(Op.AND if e.op == "and" else Op.OR)
            self.expr(e.b)
            self.patch(j, 0, self.emit(Op.END_EXPR))
        elif isinstance(e, ir.Cond):
            self.expr(e.cond)
            self.at(e)
            j = self.emit(Op.COND)
            self.expr(e.then)
            k = self.emit(Op.ELSE_EXPR)
            self.patch(j, 0, k)
            self.expr(e.otherwise)
            self.patch(k, 0, self.emit(Op.END_EXPR))
        elif isinstance(e, ir.Call):
            self.exprs(e.args)
            self.at(e)
            self.emit(Op.CALL, m.func_ix[e.func], len(e.args))
        elif isinstance(e, ir.CallMod):
            self.exprs(e.args)
            self.at(e)
            self.emit(Op.CALL_MOD, m.import_ix[e.module], m.pools.name(e.name), len(e.args))
        elif isinstance(e, ir.CallValue):
            self.expr(e.fn)
            self.exprs(e.args)
            self.at(e)
            self.emit(Op.CALL_VALUE, len(e.args))
        elif isinstance(e, ir.CallBuiltin):
            self.exprs(e.args)
            self.at(e)
            self.emit(Op.CALL_NATIVE, m.pools.name(e.name), len(e.args))
        elif isinstance(e, ir.New):
            self.exprs(e.args)
            self.at(e)
            self.emit(Op.NEW, m.struct_ix[e.struct], len(e.args))
        elif isinstance(e, ir.GetField):
            self.expr(e.obj)
            self.at(e)
            self.emit(Op.GET_FIELD, m.pools.name(e.field))
        elif isinstance(e, ir.TupleGet):
            self.expr(e.obj)
            self.at(e)
            self.emit(Op.TUPLE_GET, e.index)
        elif isinstance(e, ir.ListLit):
            self.chunked(e.items, Op.BUILD_LIST, Op.LCONCAT)
        elif isinstance(e, ir.MapLit):
            for k, v in zip(e.keys, e.values):
                self.expr(k)
                self.expr(v)
            self.at(e)
            self.emit(Op.BUILD_MAP, len(e.keys))
        elif isinstance(e, ir.TupleLit):
            self.exprs(e.items)
            self.emit(Op.BUILD_TUPLE, len(e.items))
        elif isinstance(e, ir.Index):
            self.expr(e.obj)
            self.expr(e.index)
            self.at(e)
            self.emit(Op.INDEX)
        elif isinstance(e, ir.Slice):
            self.expr(e.obj)
            if e.lo is not None:
                self.expr(e.lo)
            if e.hi is not None:
                self.expr(e.hi)
            self.at(e)
            self.emit(Op.SLICE, int(e.lo is not None), int(e.hi is not None))
        elif isinstance(e, ir.RangeLit):
            self.expr(e.lo)
            self.expr(e.hi)
            self.emit(Op.BUILD_RANGE, int(e.inclusive))
        elif isinstance(e, ir.Closure):
            self.emit(Op.MAKE_CLOSURE, m.func_ix[e.func])
        elif isinstance(e, ir.Interp):
            self.chunked(e.parts, Op.BUILD_STR, Op.SCONCAT, e)
        else:  # pragma: no cover
            raise TypeError(f"cannot emit {type(e).__name__}")

    def chunked(self, items: list[ir.Expr], build: Op, concat: Op, where: "ir.Expr | None" = None) -> None:
        """`build` of `items`, LITERAL_CHUNK at a time, each chunk after the first joined on with `concat`.

        A literal's items all sit on the operand stack before `build` takes them: a list literal of
        2 000 items in one BUILD_LIST passed the verifier's MAX_STACK (1 024) and a valid program was
        refused at load.  In chunks the stack holds at most one chunk and the part built so far.
        """
        for start in range(0, max(len(items), 1), LITERAL_CHUNK):
            part = items[start:start + LITERAL_CHUNK]
            self.exprs(part)
            if where is not None:
                self.at(where)
            self.emit(build, len(part))
            if start:
                self.emit(concat)

    def exprs(self, es: list[ir.Expr]) -> None:
        for x in es:
            self.expr(x)

    def finish(self) -> mf.FunctionCode:
        self.body(self.fn.body)
        if not self.code or self.code[-4] not in (Op.RETURN, Op.RETURN_NONE, Op.THROW):
            self.emit(Op.RETURN_NONE)
        f = self.fn
        return mf.FunctionCode(
            name=f.name, display=f.display, kind=f.kind, nparams=f.params, nlocals=len(f.local_names),
            depth=f.depth, parent=self.mod.func_ix[f.parent] if f.parent else -1, code=self.code,
            lines=self.lines, cols=self.cols, local_names=list(f.local_names),
            signature=str(resolve(f.type)), exported=f.exported)


class ModuleEmitter:
    def __init__(self, module: ir.Module) -> None:
        self.module = module
        self.pools = _Pools()
        self.func_ix = {f.name: i for i, f in enumerate(module.functions)}
        self.global_ix = {g.name: i for i, g in enumerate(module.globals)}
        self.struct_ix = {s.name: i for i, s in enumerate(module.structs)}
        self.import_ix = {name: i for i, name in enumerate(module.imports)}

    def emit(self, source_hash: str, import_versions: dict[str, str] | None = None) -> mf.ModuleFile:
        m = self.module
        functions = [_FunctionEmitter(self, f).finish() for f in m.functions]
        return mf.ModuleFile(
            name=m.name, version=m.version, source_file=m.file, source_hash=source_hash,
            compiler=mf.compiler_id(), consts=self.pools.consts, names=self.pools.names,
            functions=functions,
            structs=[mf.StructCode(name=s.name, fields=list(s.field_names),
                                   field_types=[str(resolve(t)) for t in s.field_types], exported=s.exported,
                                   defaults=[d.value if d is not None else None for d in s.defaults],
                                   has_default=[d is not None for d in s.defaults])
                     for s in m.structs],
            globals=[mf.GlobalCode(name=g.name, type=str(resolve(g.ty)), mutable=g.mutable, exported=g.exported)
                     for g in m.globals],
            imports=[mf.ImportCode(module=i, version=(import_versions or {}).get(i, "")) for i in m.imports],
            tests=[mf.TestCode(name=t.name, func=self.func_ix[t.func]) for t in m.tests],
            init=self.func_ix[m.init], entry=self.func_ix[m.entry] if m.entry else -1,
            ir=ir.encode_module(m))


def emit_module(module: ir.Module, source_hash: str, import_versions: dict[str, str] | None = None) -> mf.ModuleFile:
    """Lower a checked, optimised IR module to its `.nbc` form."""
    return ModuleEmitter(module).emit(source_hash, import_versions)
