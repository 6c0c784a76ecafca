"""Name resolution, type checking and lowering to the typed IR, in one walk.

The checker elaborates the AST into IR as it checks it: every expression it
accepts comes back as an IR node carrying its type, with operators resolved
by type (`int.add` vs `float.add`), implicit int→float conversions made
explicit, and names resolved to local slots, captured variables, globals or
functions.  Checking and lowering share one walk because both need the same
facts at the same place; the IR is the typed AST's successor, not a copy.

Types are inferred by unification (:mod:`noodle.ir.types`): locals and
return types may be left out; parameters are annotated (lambda parameters
take their types from the context they are passed to).  Errors are collected
in a :class:`DiagnosticBag`; after an error the offending expression gets the
type `?` so one mistake is reported once.

The rules are mixins by syntactic category, one file each: :mod:`.declarations` (module, imports,
functions, globals), :mod:`.statements`, :mod:`.expressions` (with lambdas), :mod:`.calls`,
:mod:`.arrays` (the Array type's rules), :mod:`.python` (`import py` and `py` values); :mod:`.base` holds the shared state, constants and
utilities.
"""
from __future__ import annotations

from noodle.compiler import ast
from noodle.compiler.checker.arrays import ArrayRules
from noodle.compiler.checker.base import CheckerBase, Resolver, report_unresolved
from noodle.compiler.checker.calls import CallRules
from noodle.compiler.checker.declarations import DeclarationRules
from noodle.compiler.checker.expressions import ExpressionRules
from noodle.compiler.checker.python import PythonRules
from noodle.compiler.checker.statements import StatementRules
from noodle.compiler.diagnostics import DiagnosticBag
from noodle.compiler.record import Recorder
from noodle.compiler.scope import ModuleInterface
from noodle.ir import nodes as ir


class Checker(DeclarationRules, StatementRules, ExpressionRules, CallRules, ArrayRules, PythonRules, CheckerBase):
    """Checks one module and lowers it to IR (see the module docstring)."""


def check(module: ast.Module, name: str, diags: DiagnosticBag, resolver: Resolver | None = None,
          interfaces: dict[str, ModuleInterface] | None = None, expected_name: str | None = None,
          recorder: Recorder | None = None) -> ir.Module:
    """Check `module` and lower it to IR; errors go to `diags`; `recorder` (if given) records what
    each expression's type is and what each name means, for editors."""
    checker = Checker(module, name, diags, resolver, interfaces, expected_name, recorder)
    result = checker.check_module()
    report_unresolved(result, diags, module.file, checker.local_spans)
    return result
