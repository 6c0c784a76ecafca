"""Hints for the mistakes newcomers make most: names and methods from other languages.

Used by the checker when a name or a method is not found; each function returns a hint text or
None, and falls back to a did-you-mean among the names that exist.
"""
from __future__ import annotations

from noodle.compiler.diagnostics import did_you_mean

#: methods other languages spell differently: (receiver kind, name) -> what Noodle writes
METHOD_ALIASES: dict[str, dict[str, str]] = {
    "List": {
        "push": "append", "add": "append", "push_back": "append", "add_all": "extend", "addAll": "extend",
        "concat": "extend", "length": "len(xs)", "size": "len(xs)", "len": "len(xs)", "indexOf": "index",
        "index_of": "index", "contains": "x in xs", "includes": "x in xs", "has": "x in xs",
        "removeAt": "pop(i)", "remove_at": "pop(i)", "shift": "pop(0)", "unshift": "insert(0, x)",
        "sorted": "sorted(xs)", "reversed": "reversed(xs)", "join": '", ".join(xs)', "map": "map(xs, f)",
        "filter": "filter(xs, f)", "forEach": "for x in xs { }", "each": "for x in xs { }",
        "slice": "xs[a:b]", "first": "xs[0]", "last": "xs[-1]", "isEmpty": "len(xs) == 0",
    },
    "Map": {
        "contains": "k in m", "containsKey": "k in m", "has": "k in m", "has_key": "k in m", "includes": "k in m",
        "put": "m[k] = v", "set": "m[k] = v", "insert": "m[k] = v", "remove": "pop(k)", "delete": "pop(k)",
        "length": "len(m)", "size": "len(m)", "len": "len(m)", "getOrDefault": "get(k, default)",
        "entries": "items", "keySet": "keys", "isEmpty": "len(m) == 0",
    },
    "str": {
        "toUpperCase": "upper", "toLowerCase": "lower", "to_upper": "upper", "to_lower": "lower",
        "toUpper": "upper", "toLower": "lower", "uppercase": "upper", "lowercase": "lower",
        "trim": "strip", "trimStart": "lstrip", "trimEnd": "rstrip", "trim_start": "lstrip", "trim_end": "rstrip",
        "startsWith": "startswith", "endsWith": "endswith", "starts_with": "startswith", "ends_with": "endswith",
        "indexOf": "find", "index": "find", "contains": "sub in s", "includes": "sub in s",
        "length": "len(s)", "size": "len(s)", "len": "len(s)", "charAt": "s[i]", "substring": "s[a:b]",
        "substr": "s[a:b]", "slice": "s[a:b]", "toString": "str(x)", "format": '"{x}" interpolation',
        "splitlines": 'split("\\n")', "repeat": "s * n", "concat": "s + t", "isEmpty": 's == ""',
        "isnumeric": "isdigit", "isDigit": "isdigit", "isalnum": "isalpha() or isdigit()",
    },
}

#: names from other languages that Noodle spells differently
NAME_ALIASES: dict[str, str] = {
    "null": "`none`", "nil": "`none`", "None": "`none`", "undefined": "`none`", "NULL": "`none`",
    "True": "`true`", "False": "`false`", "TRUE": "`true`", "FALSE": "`false`",
    "println": "`print(...)`", "printf": '`print("{x}")`', "console": "`print(...)`", "puts": "`print(...)`",
    "len_": "`len(x)`", "length": "`len(x)`", "self_": "`self`", "this": "`self` (the first parameter of a method)",
}


def method_hint(kind: str, name: str, methods: list[str]) -> str | None:
    """`xs.push(1)` -> "Noodle writes `append`"; else a did-you-mean among `methods`."""
    alias = METHOD_ALIASES.get(kind, {}).get(name)
    if alias is not None:
        if alias.isidentifier():
            return f"did you mean `{alias}`? (`{name}` is another language's name for it)"
        return f"Noodle writes this as `{alias}`"
    return did_you_mean(name, methods)


def name_hint(name: str, candidates: set[str], standard_modules: dict[str, list[str]],
              self_fields: list[str] | None = None) -> str | None:
    """The hint for an undefined name: another language's spelling, a missing `import`, a field
    that needs `self.`, or a did-you-mean."""
    if name in NAME_ALIASES:
        return f"Noodle writes {NAME_ALIASES[name]}"
    if name in standard_modules:
        return f"`{name}` is a standard module: add `import {name}` at the top of the file"
    if self_fields is not None and name in self_fields:
        return f"inside a method, fields are reached through `self`: write `self.{name}`"
    owners = [m for m, members in sorted(standard_modules.items()) if name in members]
    if owners:
        m = owners[0]
        return f"`{name}` is in the standard module `{m}`: add `import {m}` and write `{m}.{name}`"
    return did_you_mean(name, candidates)
