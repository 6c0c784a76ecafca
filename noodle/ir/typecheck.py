"""The typing rules of the IR that native code is built from, checked node by node.

The llvmlite backend lowers a function from its typed IR and trusts every type
written on it: a local's type decides its register, an expression's type the
instruction, an Array parameter's element kind and dimensions how memory is
read and written.  The IR inside a `.nbc` is data like the rest of the file, so
the loader (:mod:`noodle.vm.verify_ir`) checks, before any native code is made,
that every function the native plan compiles is well typed by these rules:

- a parameter's and a local's type is one native code holds (a scalar, or for
  parameters an Array of int, float, i32 or f32 with 1 or 2 dimensions);
- every expression's type is the one its operator gives its operands' types
  (`int.add` takes and gives int, `cmp.lt` two equal scalars and gives bool, a
  call its callee's parameter and result types, a native its signature);
- every stored value has its slot's type, every returned value the result type,
  a loop variable is an int, a condition a bool;
- an Array is only read, written or measured where it was passed as a parameter,
  with as many indices as it has dimensions, and the values stored are its elements'.

Anything else raises :class:`IRTypeError` naming the function and the line.
"""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.types import BOOL, F32, FLOAT, I32, INT, NONE, ArrayT, TupleT, Type, prune

_SCALARS = (INT, FLOAT, BOOL, F32, I32)
_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1

#: the natives native code lowers itself: parameter types and result type
NATIVE_SIGNATURES: dict[str, tuple[tuple[Type, ...], Type]] = {
    "abs.int": ((INT,), INT), "abs.float": ((FLOAT,), FLOAT), "math.fabs": ((FLOAT,), FLOAT),
    "int.float": ((FLOAT,), INT), "int.int": ((INT,), INT), "float.float": ((FLOAT,), FLOAT),
    "math.sqrt": ((FLOAT,), FLOAT), "math.sin": ((FLOAT,), FLOAT), "math.cos": ((FLOAT,), FLOAT),
    "math.exp": ((FLOAT,), FLOAT), "math.log": ((FLOAT,), FLOAT), "math.tan": ((FLOAT,), FLOAT),
    "math.asin": ((FLOAT,), FLOAT), "math.acos": ((FLOAT,), FLOAT), "math.atan": ((FLOAT,), FLOAT),
    "math.log2arg": ((FLOAT, FLOAT), FLOAT), "math.atan2": ((FLOAT, FLOAT), FLOAT), "math.pow": ((FLOAT, FLOAT), FLOAT),
    "math.floor": ((FLOAT,), INT), "math.ceil": ((FLOAT,), INT), "math.isnan": ((FLOAT,), BOOL),
    "math.isinf": ((FLOAT,), BOOL), "range.incl_stop": ((INT,), INT),
    "f32.add": ((F32, F32), F32), "f32.sub": ((F32, F32), F32), "f32.mul": ((F32, F32), F32),
    "f32.div": ((F32, F32), F32), "f32.neg": ((F32,), F32), "f32.f32": ((F32,), F32),
    "i32.add": ((I32, I32), I32), "i32.sub": ((I32, I32), I32), "i32.mul": ((I32, I32), I32),
    "i32.floordiv": ((I32, I32), I32), "i32.mod": ((I32, I32), I32), "i32.neg": ((I32,), I32),
    "i32.i32": ((I32,), I32), "float.to_f32": ((FLOAT,), F32), "f32.to_float": ((F32,), FLOAT),
    "int.to_i32": ((INT,), I32), "i32.to_int": ((I32,), INT),
}
_INT_BINARY = {"int.add", "int.sub", "int.mul", "int.floordiv", "int.mod", "int.and", "int.or", "int.xor"}
_FLOAT_BINARY = {"float.add", "float.sub", "float.mul", "float.div", "float.floordiv", "float.mod"}
#: natives native code runs only as statements, for what they do
_EFFECTS = ("array.set", "parallel.run")
#: the BLAS calls of recognised contractions: (allowed characters of each flag, sizes, alpha?,
#: dimensions of the operands, beta?); the array written comes last
_BLAS = {"blas.gemm": (["NT", "NT"], 3, 1, [2, 2], 1), "blas.gemv": (["NT"], 2, 1, [2, 1], 1),
         "blas.ger": ([], 2, 1, [1, 1], 0), "blas.syrk": (["LU", "NT"], 2, 1, [2], 1),
         "blas.syr2k": (["LU", "NT"], 2, 1, [2, 2], 1), "blas.trmm": (["LR", "LU", "NT", "NU"], 2, 1, [2], 0),
         "blas.trsv": (["LU", "NT", "NU"], 1, 0, [2], 0), "blas.symm": (["LR", "LU"], 2, 1, [2, 2], 1)}
#: a last flag a routine may take beyond those: `S` for a strict triangle (the diagonal kept)
_BLAS_OPTIONAL = {"blas.syrk": "S", "blas.syr2k": "S"}
_COMPARISONS = {"cmp.eq", "cmp.ne", "cmp.lt", "cmp.le", "cmp.gt", "cmp.ge"}


class IRTypeError(Exception):
    """The IR of a function native code would be built from is not well typed."""


#: natives that make a new Array a native function keeps in a local of its own, and its element type
_ARRAY_MAKERS = {"array.zeros": FLOAT, "array.ones": FLOAT, "array.full.float": FLOAT, "array.full.int": INT}


def _array(t: Type) -> ArrayT | None:
    t = prune(t)
    if isinstance(t, ArrayT) and t.ndim >= 1 and t.elem in (INT, FLOAT, F32, I32):
        return t
    return None


class _Checker:
    def __init__(self, f: ir.Function, functions: dict[str, ir.Function]) -> None:
        self.f = f
        self.functions = functions
        self.types = [prune(t) for t in f.local_types]

    def fail(self, node: ir.Node | None, why: str) -> IRTypeError:
        line = getattr(node, "line", 0) if node is not None else self.f.line
        return IRTypeError(f"function {self.f.name!r}" + (f" line {line}" if line else "") + f": {why}")

    # ---------------------------------------------------------------- function

    def function(self) -> None:
        f = self.f
        if f.kind != "fn":
            raise self.fail(None, f"a {f.kind} cannot run natively")
        if len(f.local_names) != len(f.local_types) or not 0 <= f.params <= len(f.local_types):
            raise self.fail(None, "locals and their types disagree")
        for slot, t in enumerate(self.types):
            if t in _SCALARS or _array(t) is not None:  # an Array parameter, or a local made by a maker
                continue
            raise self.fail(None, f"local {slot} has type {t}, which native code cannot hold")
        ret = prune(f.ret)
        if isinstance(ret, TupleT):
            if not all(prune(x) in _SCALARS for x in ret.items):
                raise self.fail(None, f"result type {ret} is not a tuple of scalars")
        elif ret not in _SCALARS and ret != NONE:
            raise self.fail(None, f"result type {ret} cannot be returned by native code")
        self.body(f.body, in_loop=False)

    # ---------------------------------------------------------------- statements

    def body(self, stmts: list[ir.Stmt], in_loop: bool) -> None:
        for s in stmts:
            self.stmt(s, in_loop)

    def stmt(self, s: ir.Stmt, in_loop: bool) -> None:
        if isinstance(s, ir.LocalSet):
            t = self.slot_type(s, s.slot)
            if _array(t) is not None:
                self.array_local(s, t)
            else:
                self.expect(s.value, t)
        elif isinstance(s, ir.ExprStmt):
            if isinstance(s.expr, ir.CallBuiltin) and s.expr.name in _EFFECTS:
                self.builtin(s.expr, for_effect=True)  # its value is dropped, whatever a pass typed it
            else:
                self.expr(s.expr)
        elif isinstance(s, ir.If):
            self.expect(s.cond, BOOL)
            if s.intent:
                self.intent(s)
            self.body(s.then, in_loop)
            self.body(s.otherwise, in_loop)
        elif isinstance(s, ir.While):
            self.expect(s.cond, BOOL)
            self.body(s.body, True)
        elif isinstance(s, ir.ForRange):
            if self.slot_type(s, s.slot) != INT:
                raise self.fail(s, "a counting loop's variable is not an int")
            for e in (s.start, s.stop, s.step):
                self.expect(e, INT)
            self.body(s.body, True)
        elif isinstance(s, ir.Return):
            ret = prune(self.f.ret)
            if s.value is None:
                if ret != NONE:
                    raise self.fail(s, f"`return` without a value in a function returning {ret}")
            elif isinstance(s.value, ir.TupleLit) and isinstance(ret, TupleT):
                if len(s.value.items) != len(ret.items):
                    raise self.fail(s, "returns a tuple of another length than its result type")
                for x, t in zip(s.value.items, ret.items):
                    self.expect(x, prune(t))
            else:
                self.expect(s.value, ret)
        elif isinstance(s, (ir.Break, ir.Continue)):
            if not in_loop:
                raise self.fail(s, f"{type(s).__name__.lower()} outside a loop")
        else:
            raise self.fail(s, f"{type(s).__name__} cannot run natively")

    def array_local(self, s: ir.LocalSet, t: Type) -> None:
        """`z = zeros(dims...)`, `ones(dims...)`, `full(dims..., value)` into a local of the function's own."""
        a = _array(t)
        value = s.value
        if s.slot < self.f.params:
            raise self.fail(s, "an Array parameter is assigned")
        if not isinstance(value, ir.CallBuiltin) or value.name not in _ARRAY_MAKERS:
            raise self.fail(s, "an Array local not made by zeros, ones or full")
        fills = value.name.startswith("array.full")
        dims = value.args[:-1] if fills else value.args
        if a is None or len(dims) != a.ndim or prune(a.elem) != _ARRAY_MAKERS[value.name] or prune(value.ty) != a:
            raise self.fail(s, f"{value.name} does not make the local's {t}")
        for d in dims:
            self.expect(d, INT)
        if fills:
            self.expect(value.args[-1], _ARRAY_MAKERS[value.name])

    def intent(self, s: ir.If) -> None:
        """An intent dispatch: native code runs one of the two branches the VM chooses between,
        so its condition must be the registered guard of that intent."""
        from noodle.ir import variants

        guards = {v.guard for v in variants.REGISTRY.get(s.intent, []) if v.guard}
        if not guards:
            raise self.fail(s, f"unknown intent {s.intent!r}")
        cond = s.cond
        names = set()
        while isinstance(cond, ir.Logical):  # a guard may be and-ed with bounds checks
            names |= {cond.b.name} if isinstance(cond.b, ir.CallBuiltin) else set()
            cond = cond.a
        if isinstance(cond, ir.CallBuiltin):
            names.add(cond.name)
        if not names & guards:
            raise self.fail(s, f"the dispatch of intent {s.intent!r} is not guarded by its guard")

    def slot_type(self, node: ir.Node, slot: int) -> Type:
        if not 0 <= slot < len(self.types):
            raise self.fail(node, f"slot {slot} out of range")
        return self.types[slot]

    # ---------------------------------------------------------------- expressions

    def expect(self, e: ir.Expr, t: Type) -> None:
        got = self.expr(e)
        if got != prune(t):
            raise self.fail(e, f"a {got} where a {prune(t)} is expected")

    def expr(self, e: ir.Expr) -> Type:
        """Check `e`; its type (which must also be the type written on it)."""
        t = self._expr(e)
        if prune(e.ty) != t:
            raise self.fail(e, f"{type(e).__name__} says {prune(e.ty)} but computes {t}")
        return t

    def _expr(self, e: ir.Expr) -> Type:
        if isinstance(e, ir.Const):
            return self.const(e)
        if isinstance(e, ir.LocalGet):
            t = self.slot_type(e, e.slot)
            if _array(t) is not None:
                raise self.fail(e, "an Array is used as a value")
            return t
        if isinstance(e, ir.Unary):
            rule = {"int.neg": (INT, INT), "float.neg": (FLOAT, FLOAT), "not": (BOOL, BOOL),
                    "int.to_float": (INT, FLOAT)}.get(e.op)
            if rule is None:
                raise self.fail(e, f"`{e.op}` cannot run natively")
            self.expect(e.x, rule[0])
            return rule[1]
        if isinstance(e, ir.Binary):
            if e.op in _INT_BINARY or e.op in _FLOAT_BINARY:
                t = INT if e.op in _INT_BINARY else FLOAT
                self.expect(e.a, t)
                self.expect(e.b, t)
                return t
            if e.op in _COMPARISONS:
                t = self.expr(e.a)
                if t not in _SCALARS:
                    raise self.fail(e, f"comparing {t}")
                self.expect(e.b, t)
                return BOOL
            raise self.fail(e, f"`{e.op}` cannot run natively")
        if isinstance(e, ir.Logical):
            if e.op not in ("and", "or"):
                raise self.fail(e, f"unknown logical operator {e.op!r}")
            self.expect(e.a, BOOL)
            self.expect(e.b, BOOL)
            return BOOL
        if isinstance(e, ir.Cond):
            self.expect(e.cond, BOOL)
            t = self.expr(e.then)
            self.expect(e.otherwise, t)
            return t
        if isinstance(e, ir.Call):
            callee = self.functions.get(e.func)
            if callee is None or callee.kind != "fn":
                raise self.fail(e, f"calls {e.func!r}, which is not a function of the module")
            params = [prune(t) for t in callee.local_types[: callee.params]]
            if len(e.args) != len(params):
                raise self.fail(e, f"calls {e.func!r} with {len(e.args)} arguments, not {len(params)}")
            for a, t in zip(e.args, params):
                if _array(t) is not None:
                    self.array_arg(a, t)
                else:
                    self.expect(a, t)
            return prune(callee.ret)
        if isinstance(e, ir.Index):
            self.shape_item(e)
            return INT
        if isinstance(e, ir.CallBuiltin):
            return self.builtin(e)
        raise self.fail(e, f"{type(e).__name__} cannot run natively")

    def const(self, e: ir.Const) -> Type:
        v, t = e.value, prune(e.ty)
        if type(v) is bool:
            return BOOL
        if v is None:
            return NONE
        if type(v) is int:
            if t == I32 and _I32_MIN <= v <= _I32_MAX:
                return I32
            if _I64_MIN <= v <= _I64_MAX:
                return INT
            raise self.fail(e, f"constant {v} does not fit in 64 bits")
        if type(v) is float:
            return F32 if t == F32 else FLOAT
        raise self.fail(e, f"a {type(v).__name__} constant cannot run natively")

    def array_param(self, e: ir.Expr) -> ArrayT:
        """`e` must name an Array local (a parameter, or one the function made), typed as its slot is."""
        if not isinstance(e, ir.LocalGet):
            raise self.fail(e, "an Array that is not a local")
        t = _array(self.slot_type(e, e.slot))
        if t is None or prune(e.ty) != t:
            raise self.fail(e, "an Array that is not a local")
        return t

    def array_arg(self, e: ir.Expr, t: Type) -> None:
        if self.array_param(e) != prune(t):
            raise self.fail(e, f"passes a {prune(e.ty)} where a {prune(t)} is expected")

    def shape_item(self, e: ir.Index) -> None:
        obj = e.obj
        if not (isinstance(obj, ir.CallBuiltin) and obj.name == "array.shape" and len(obj.args) == 1
                and isinstance(e.index, ir.Const) and type(e.index.value) is int):
            raise self.fail(e, "indexing cannot run natively")
        a = self.array_param(obj.args[0])
        if not 0 <= e.index.value < a.ndim:
            raise self.fail(e, f"dimension {e.index.value} of a {a.ndim}-dimensional Array")

    def builtin(self, e: ir.CallBuiltin, for_effect: bool = False) -> Type:
        name = e.name
        if name in _EFFECTS and not for_effect:
            raise self.fail(e, f"the value of {name} is used")
        if name in ("array.get", "array.set", "array.len"):
            if not e.args:
                raise self.fail(e, f"{name} without an Array")
            a = self.array_param(e.args[0])
            if name == "array.len":
                if len(e.args) != 1:
                    raise self.fail(e, "array.len takes one argument")
                return INT
            want = 1 + a.ndim + (name == "array.set")
            if len(e.args) != want:
                raise self.fail(e, f"{name} on a {a.ndim}-dimensional Array with {len(e.args) - 1} operands")
            for ix in e.args[1:1 + a.ndim]:
                self.expect(ix, INT)
            if name == "array.get":
                return prune(a.elem)
            self.expect(e.args[-1], prune(a.elem))
            return NONE
        if name == "min2" or name == "max2":
            if len(e.args) != 2:
                raise self.fail(e, f"{name} takes two arguments")
            t = self.expr(e.args[0])
            if t not in (INT, FLOAT):
                raise self.fail(e, f"{name} of {t}")
            self.expect(e.args[1], t)
            return t
        if name in NATIVE_SIGNATURES:
            params, ret = NATIVE_SIGNATURES[name]
            if len(e.args) != len(params):
                raise self.fail(e, f"{name} takes {len(params)} arguments")
            for a, t in zip(e.args, params):
                self.expect(a, t)
            return ret
        if name == "parallel.worth":
            if not e.args or not isinstance(e.args[0], ir.Const) or type(e.args[0].value) is not int:
                raise self.fail(e, "parallel.worth needs a constant count of accesses")
            for a in e.args[1:]:
                self.expect(a, INT)
            return BOOL
        if name == "parallel.disjoint":
            if not e.args or not isinstance(e.args[0], ir.Const) or type(e.args[0].value) is not int \
                    or not 0 <= e.args[0].value <= len(e.args) - 1:
                raise self.fail(e, "parallel.disjoint needs a constant count of written arrays")
            for a in e.args[1:]:
                self.array_param(a)
            return BOOL
        if name == "parallel.run":
            return self.parallel_run(e)
        if name.startswith("blas."):
            return self.blas(e)
        if name == "lapack.potrf":
            return self.potrf(e)
        if name == "array.dot":  # two float vectors: the library's ddot (noodle.backends.llvm.blas)
            if len(e.args) != 2:
                raise self.fail(e, "array.dot takes two arguments")
            for a in e.args:
                self.blas_array(a, 1)
            return FLOAT
        raise self.fail(e, f"calling `{name}` cannot run natively")

    def potrf(self, e: ir.CallBuiltin) -> Type:
        """`lapack.potrf(triangle, n, a)` of a recognised factorisation: `L` or `U`, an int order, a
        float matrix; it answers whether it factored."""
        if len(e.args) != 3 or not isinstance(e.args[0], ir.Const) or e.args[0].value not in ("L", "U"):
            raise self.fail(e, "lapack.potrf with flags or arguments LAPACK does not take")
        self.expect(e.args[1], INT)
        self.blas_array(e.args[2], 2)
        return BOOL

    def blas(self, e: ir.CallBuiltin) -> Type:
        """A recognised contraction's guard or BLAS call (noodle.backends.llvm.blas lowers them):
        constant flags BLAS accepts, int sizes, float scalars, float Arrays of 1 or 2 dimensions."""
        name = e.name
        if name == "blas.fits":
            if not e.args or not isinstance(e.args[0], ir.Const) or type(e.args[0].value) is not int \
                    or not 0 <= e.args[0].value <= len(e.args) - 1:
                raise self.fail(e, "blas.fits needs a constant count of written arrays")
            for a in e.args[1:]:
                self.blas_array(a, 0)
            return BOOL
        if name == "blas.diagonal_nonzero":
            if len(e.args) != 2:
                raise self.fail(e, "blas.diagonal_nonzero takes two arguments")
            self.expect(e.args[0], INT)
            self.blas_array(e.args[1], 2)
            return BOOL
        if name == "blas.gemm_rows":
            return self.blas_rows(e)
        if name == "blas.gemm_batch":
            return self.blas_batch(e)
        shape = _BLAS.get(name)
        if shape is None:
            raise self.fail(e, f"calling `{name}` cannot run natively")
        flags, sizes, alpha, arrays, beta = shape
        if isinstance(e.args[0], ir.Const) and isinstance(e.args[0].value, str) \
                and len(e.args[0].value) == len(flags) + 1 and name in _BLAS_OPTIONAL:
            flags = flags + [_BLAS_OPTIONAL[name]]
        if len(e.args) != 1 + sizes + alpha + len(arrays) + beta + 1 or not isinstance(e.args[0], ir.Const) \
                or not isinstance(e.args[0].value, str) or len(e.args[0].value) != len(flags) \
                or any(c not in allowed for c, allowed in zip(e.args[0].value, flags)):
            raise self.fail(e, f"{name} with flags or arguments BLAS does not take")
        k = 1
        for _ in range(sizes):
            self.expect(e.args[k], INT)
            k += 1
        if alpha:
            self.expect(e.args[k], FLOAT)
            k += 1
        for ndim in arrays:
            self.blas_array(e.args[k], ndim)
            k += 1
        if beta:
            self.expect(e.args[k], FLOAT)
            k += 1
        self.blas_array(e.args[k], 1 if name in ("blas.gemv", "blas.trsv") else 2)
        return NONE

    def blas_array(self, e: ir.Expr, ndim: "int | None") -> None:
        """A float Array local of `ndim` dimensions (None: 1 or 2; 0: any, the rows of one of
        3 or more flattened, as blas.gemm_rows takes them)."""
        a = self.array_param(e)
        if prune(a.elem) != FLOAT or (ndim == 0 and not a.ndim >= 1) \
                or (ndim != 0 and a.ndim not in ((1, 2) if ndim is None else (ndim,))):
            raise self.fail(e, "BLAS takes float Arrays of 1 or 2 dimensions (or the rows of more)")

    def blas_batch(self, e: ir.CallBuiltin) -> Type:
        """`blas.gemm_batch(flags, count, m, n, k, alpha, a, b, beta, c)`: one gemm per slice of
        three float Arrays of 3 dimensions."""
        args = e.args
        if len(args) != 10 or not isinstance(args[0], ir.Const) or not isinstance(args[0].value, str) \
                or len(args[0].value) != 2 or any(x not in "NT" for x in args[0].value):
            raise self.fail(e, "blas.gemm_batch with flags or arguments BLAS does not take")
        for k in (1, 2, 3, 4):
            self.expect(args[k], INT)
        self.expect(args[5], FLOAT)
        self.expect(args[8], FLOAT)
        for k in (6, 7, 9):
            a = self.array_param(args[k])
            if prune(a.elem) != FLOAT or a.ndim != 3:
                raise self.fail(e, "blas.gemm_batch takes float Arrays of 3 dimensions")
        return NONE

    def blas_rows(self, e: ir.CallBuiltin) -> Type:
        """`blas.gemm_rows(flags, rows, n, k, alpha, x, m, y, t)`: x and y of the same rank (2 or
        more), m a matrix, t a vector."""
        args = e.args
        if len(args) != 9 or not isinstance(args[0], ir.Const) or args[0].value not in ("N", "T"):
            raise self.fail(e, "blas.gemm_rows with flags or arguments BLAS does not take")
        for k in (1, 2, 3):
            self.expect(args[k], INT)
        self.expect(args[4], FLOAT)
        x, y = self.array_param(args[5]), self.array_param(args[7])
        if x.ndim < 2 or x.ndim != y.ndim:
            raise self.fail(e, "blas.gemm_rows takes two arrays of the same rank, 2 or more")
        for a in (args[5], args[7]):
            self.blas_array(a, 0)
        self.blas_array(args[6], 2)
        self.blas_array(args[8], 1)
        return NONE

    def parallel_run(self, e: ir.CallBuiltin) -> Type:
        """`parallel.run(chunk, start, stop, captured...)` runs `chunk(captured..., lo, hi)`."""
        if len(e.args) < 3 or not isinstance(e.args[0], ir.FuncRef):
            raise self.fail(e, "parallel.run needs a chunk function")
        chunk = self.functions.get(e.args[0].name)
        if chunk is None or chunk.kind != "fn" or prune(chunk.ret) != NONE:
            raise self.fail(e, f"parallel.run of {e.args[0].name!r}, which is not a chunk function")
        captured = e.args[3:]
        params = [prune(t) for t in chunk.local_types[: chunk.params]]
        if len(params) != len(captured) + 2 or params[-2:] != [INT, INT]:
            raise self.fail(e, f"parallel.run does not match the parameters of {chunk.name!r}")
        self.expect(e.args[1], INT)
        self.expect(e.args[2], INT)
        for a, t in zip(captured, params):
            if _array(t) is not None:
                self.array_arg(a, t)
            else:
                self.expect(a, t)
        return NONE


def check_function(f: ir.Function, functions: dict[str, ir.Function]) -> None:
    """Raise :class:`IRTypeError` unless `f` is well typed for native code (`functions`: the module's)."""
    _Checker(f, functions).function()
