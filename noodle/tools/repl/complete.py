"""Tab completion from the checker's view of the session.

Names come from the session's declarations, the prelude and the keywords;
after a `.` the receiver's static type (asked of the checker, as `:type`
does) decides: struct fields and methods, the methods of `List`, `Map` and
`str`, a module's exports.  After `import` the standard modules and the
`.nd` files under the session's folder are offered; after `:` the commands.
"""
from __future__ import annotations

import re
from typing import Iterable

from noodle.errors import CompileError
from noodle.ir.types import ERROR, ListT, MapT, Prim, StructT, Type

KEYWORDS = ("let", "var", "const", "fn", "struct", "if", "else", "while", "for", "in", "return", "break",
            "continue", "import", "from", "as", "true", "false", "none", "and", "or", "not", "assert",
            "try", "catch", "throw", "test")
COMMANDS = (":help", ":quit", ":type", ":reset")

_MEMBER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(\))?)\.([A-Za-z0-9_]*)$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_IMPORT = re.compile(r"^\s*(?:import|from)\s+([A-Za-z0-9_.]*)$")


def standard_modules() -> list[str]:
    from noodle.stdlib.signatures import MODULES

    return sorted(MODULES)


def prelude_names() -> list[str]:
    from noodle.stdlib.signatures import PRELUDE, SPECIAL_PRELUDE

    return sorted(set(PRELUDE) | set(SPECIAL_PRELUDE))


def completions(session, text: str) -> tuple[int, list[str]]:  # noqa: ANN001 - a Session
    """(length of the word being completed, candidates) for the text before the cursor."""
    if text.lstrip().startswith(":") and " " not in text.strip():
        word = text.strip()
        return len(word), [c for c in COMMANDS if c.startswith(word)]
    m = _IMPORT.match(text)
    if m:
        word = m.group(1)
        return len(word), [n for n in _importable(session) if n.startswith(word)]
    m = _MEMBER.search(text)
    if m:
        receiver, word = m.group(1), m.group(2)
        return len(word), sorted(n for n in members(session, receiver) if n.startswith(word))
    m = _WORD.search(text)
    word = m.group(0) if m else ""
    if not word:
        return 0, []
    names = set(session.names()) | set(prelude_names()) | set(KEYWORDS)
    return len(word), sorted(n for n in names if n.startswith(word) and n != word)


def _importable(session) -> list[str]:  # noqa: ANN001
    found = set(standard_modules())
    try:
        for p in session.root.rglob("*.nd"):
            rel = p.relative_to(session.root).with_suffix("")
            if all(part.isidentifier() for part in rel.parts) and "__noodlecache__" not in rel.parts:
                found.add(".".join(rel.parts))
            if len(found) > 500:
                break
    except OSError:
        pass
    return sorted(found)


def members(session, receiver: str) -> Iterable[str]:  # noqa: ANN001
    """What may follow `receiver.`: a module's exports, or the members of the receiver's type."""
    from noodle.stdlib.signatures import MODULE_CONSTANTS, MODULES

    module = session.imports().get(receiver)
    if module is not None:
        if module in MODULES:
            return list(MODULES[module]) + list(MODULE_CONSTANTS.get(module, {}))
        iface = session.project.interfaces.get(module)
        if iface is None:
            return []
        return list(iface.functions) + list(iface.globals) + list(iface.structs)
    try:
        t = session.static_type(receiver)
    except (CompileError, StopIteration):
        return []
    return type_members(session, t)


def type_members(session, t: Type) -> list[str]:  # noqa: ANN001
    from noodle.stdlib.signatures import METHODS

    if t == ERROR:
        return ["kind", "message"]
    if isinstance(t, StructT):
        if t.module == "repl" and t.name in session.structs:
            s = session.structs[t.name]
            return list(s.field_names) + list(s.methods)
        iface = session.project.interfaces.get(t.module)
        if iface is not None and t.name in iface.structs:
            info = iface.structs[t.name]
            return list(info.field_names) + list(info.methods)
        return []
    kind = "List" if isinstance(t, ListT) else "Map" if isinstance(t, MapT) else \
        t.name if isinstance(t, Prim) else type(t).__name__.removesuffix("T")
    return [name for (k, name) in METHODS if k == kind]
