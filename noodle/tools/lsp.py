"""`noodle lsp`: the Noodle language server (LSP over stdio, built on pygls).

What it offers now:

* diagnostics (errors and warnings, with their related places) when a document is opened or
  changed, debounced, the document compiled from the editor's text, not from disk; the modules
  it imports are read from the workspace (the document's folder is the source root, as for
  `noodle run`);
* hover on a function or struct name (declared in the document or in a module it imports): the
  signature and the doc comment (the `//` lines right above it), a struct's fields;
* go to definition of those names, document symbols (functions, structs with their methods),
  completion (keywords, the document's declarations, imported modules, and after `alias.` what
  that module declares);
* document formatting with `noodle fmt`'s layout (:mod:`noodle.tools.fmt`).

A document with errors mid-edit is the normal case: every request answers (with what it can, or
nothing), the server never goes down with the document.
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from noodle.compiler import ast
from noodle.compiler.diagnostics import Diagnostic
from noodle.compiler.parser import parse
from noodle.errors import CompileError
from noodle.tools.fmt import FormatError, format_source

#: seconds a document must rest after a change before it is compiled again
DEBOUNCE_S = 0.25
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
log = logging.getLogger(__name__)


def path_of(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


# ------------------------------------------------------------------ diagnostics


def diagnostics_of(path: Path, source: str) -> list[Diagnostic]:
    """Errors and warnings of the module in `path` whose text is `source` (imports read from disk)."""
    from noodle.build.driver import CompileOptions, Project

    project = Project(path.parent, CompileOptions(1, False))
    found: list[Diagnostic] = []
    try:
        project.compile_module(project.name_for(path), path, str(path), source=source)
    except CompileError as e:
        found += e.diagnostics
    except RecursionError:
        return []  # the parser reports deep nesting itself; a checker recursion is not the editor's business
    return [d for d in project.warnings + found if d.span.file == str(path)]


def _range(span: ast.Span) -> lsp.Range:
    return lsp.Range(lsp.Position(max(span.line - 1, 0), max(span.col - 1, 0)),
                     lsp.Position(max(span.end_line - 1, 0), max(span.end_col - 1, 0)))


def to_lsp(d: Diagnostic, uri: str) -> lsp.Diagnostic:
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "") + "".join(f"\nnote: {n}" for n in d.notes)
    related = [lsp.DiagnosticRelatedInformation(lsp.Location(uri if span.file == path_of(uri).as_posix() else
                                                             Path(span.file).resolve().as_uri(), _range(span)), text)
               for span, text in d.related]
    return lsp.Diagnostic(_range(d.span), message,
                          lsp.DiagnosticSeverity.Error if d.severity == "error" else lsp.DiagnosticSeverity.Warning,
                          code=d.code, source="noodle", related_information=related or None)


# ------------------------------------------------------------------ hover


@dataclass(frozen=True, slots=True)
class Declaration:
    """A function or struct a hover can describe."""

    name: str
    signature: str
    doc: str
    kind: str  # "function", "method" or "struct"
    span: ast.Span  # the declaration's name


def _doc_above(lines: list[str], line: int) -> str:
    """The `//` comment lines right above 1-based `line` (attributes in between are skipped)."""
    doc: list[str] = []
    i = line - 2
    while i >= 0 and lines[i].strip().startswith("@"):
        i -= 1
    while i >= 0 and lines[i].strip().startswith("//"):
        doc.append(lines[i].strip()[2:].strip())
        i -= 1
    return "\n".join(reversed(doc))


def _text(lines: list[str], start: ast.Span, end_line: int, end_col: int) -> str:
    if start.line == end_line:
        return lines[start.line - 1][start.col - 1:end_col - 1]
    parts = [lines[start.line - 1][start.col - 1:], *lines[start.line:end_line - 1], lines[end_line - 1][:end_col - 1]]
    return " ".join(p.strip() for p in parts)


def declarations(source: str, file: str) -> dict[str, Declaration]:
    """The functions (methods as `Struct.method`) and structs declared in `source`; {} if it does not parse."""
    try:
        module = parse(source, file)
    except CompileError:
        return {}
    lines = source.splitlines()
    found: dict[str, Declaration] = {}

    def function(fn: ast.FnDecl, owner: str | None) -> None:
        signature = _text(lines, fn.span, fn.body.span.line, fn.body.span.col).strip()
        key = f"{owner}.{fn.name}" if owner else fn.name
        found[key] = Declaration(key, signature, _doc_above(lines, fn.span.line), "method" if owner else "function",
                                 fn.name_span)

    for item in module.items:
        if isinstance(item, ast.FnDecl):
            function(item, None)
        elif isinstance(item, ast.StructDecl):
            fields = "\n".join(f"    {_text(lines, f.span, f.span.end_line, f.span.end_col)}" for f in item.fields)
            header = lines[item.span.line - 1]
            col = header.find(item.name, item.span.col - 1 + len("struct")) + 1
            found[item.name] = Declaration(item.name, f"struct {item.name} {{\n{fields}\n}}",
                                           _doc_above(lines, item.span.line), "struct",
                                           ast.Span(file, item.span.line, col, item.span.line, col + len(item.name)))
            for m in item.methods:
                function(m, item.name)
    return found


def _imported_sources(source: str, path: Path) -> list[tuple[str, str, Path]]:
    """(alias, text, file) of each workspace module the document imports (those that cannot be read are left out)."""
    try:
        module = parse(source, str(path))
    except CompileError:
        return []
    from noodle.format.cache import module_path

    out = []
    for item in module.items:
        if isinstance(item, (ast.Import, ast.FromImport)) and not getattr(item, "is_py", False):
            file = Path(module_path(path.parent, item.path))
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            alias = getattr(item, "alias", None) or item.path.split(".")[-1]
            out.append((alias, text, file))
    return out


def word_at(source: str, line: int, character: int) -> tuple[str, str | None]:
    """The name under a 0-based position and the name before a `.` right in front of it (if any)."""
    lines = source.splitlines()
    if line >= len(lines):
        return "", None
    text = lines[line]
    for m in _WORD.finditer(text):
        if m.start() <= character <= m.end():
            before = text[:m.start()]
            q = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\.$", before)
            return m.group(), (q.group(1) if q else None)
    return "", None


def lookup(path: Path, source: str, line: int, character: int) -> Declaration | None:
    """The declaration the name at a 0-based position refers to (in the document or a module it imports).

    Names are matched by name (and by module for `alias.name`), not through the checker's scopes:
    a local that shadows a function still shows the function.
    """
    name, qualifier = word_at(source, line, character)
    if not name:
        return None
    here = declarations(source, str(path))
    if qualifier is None and name in here:
        return here[name]
    for alias, text, file in _imported_sources(source, path):
        theirs = declarations(text, str(file))
        if name in theirs and (qualifier is None or qualifier == alias):
            return theirs[name]
    methods = [d for key, d in here.items() if key.endswith(f".{name}")]
    return methods[0] if methods else None


def hover_text(path: Path, source: str, line: int, character: int) -> str | None:
    """Markdown for the name at a 0-based position, or None where there is nothing to say."""
    d = lookup(path, source, line, character)
    if d is None:
        return None
    return f"```noodle\n{d.signature}\n```" + (f"\n\n{d.doc}" if d.doc else "")


def completions(path: Path, source: str, line: int, character: int) -> list[lsp.CompletionItem]:
    """After `alias.`: what that imported module declares; elsewhere: keywords, this document's
    declarations and the imported modules' names.  A document that does not parse offers what its
    last parsable imports and declarations give (here: the keywords at least)."""
    from noodle.compiler.parse_state import KEYWORDS

    lines = source.splitlines()
    text = lines[line][:character] if line < len(lines) else ""
    m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\.[A-Za-z0-9_]*$", text)
    imported = _imported_sources(source, path)
    kinds = {"function": lsp.CompletionItemKind.Function, "method": lsp.CompletionItemKind.Method,
             "struct": lsp.CompletionItemKind.Struct}
    if m:
        for alias, theirs, file in imported:
            if alias == m.group(1):
                return [lsp.CompletionItem(k, kind=kinds[d.kind], detail=d.signature.splitlines()[0],
                                           documentation=d.doc or None)
                        for k, d in declarations(theirs, str(file)).items() if "." not in k]
        return []
    items = [lsp.CompletionItem(k, kind=lsp.CompletionItemKind.Keyword) for k in sorted(KEYWORDS)]
    items += [lsp.CompletionItem(k, kind=kinds[d.kind], detail=d.signature.splitlines()[0], documentation=d.doc or None)
              for k, d in declarations(source, str(path)).items() if "." not in k]
    items += [lsp.CompletionItem(alias, kind=lsp.CompletionItemKind.Module) for alias, _, _ in imported]
    return items


# ------------------------------------------------------------------ the server


class NoodleServer(LanguageServer):
    """The language server: pygls plus the debounced compile of each open document."""

    def __init__(self) -> None:
        from noodle.version import __version__

        super().__init__("noodle", __version__)
        self._pending: dict[str, asyncio.TimerHandle] = {}

    def schedule(self, uri: str, delay: float = DEBOUNCE_S) -> None:
        old = self._pending.pop(uri, None)
        if old is not None:
            old.cancel()
        self._pending[uri] = asyncio.get_running_loop().call_later(delay, self.publish, uri)

    def publish(self, uri: str) -> None:
        self._pending.pop(uri, None)
        doc = self.workspace.get_text_document(uri)
        try:
            found = [to_lsp(d, uri) for d in diagnostics_of(path_of(uri), doc.source)]
        except Exception as e:  # a compiler bug must not take the editor's server down
            log.exception("compiling %s", uri)
            found = [lsp.Diagnostic(lsp.Range(lsp.Position(0, 0), lsp.Position(0, 1)),
                                    f"internal compiler error: {type(e).__name__}: {e}",
                                    lsp.DiagnosticSeverity.Error, source="noodle")]
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, found, version=doc.version))


def make_server() -> NoodleServer:
    server = NoodleServer()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: NoodleServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0.0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NoodleServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: NoodleServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0.0)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: NoodleServer, params: lsp.HoverParams) -> lsp.Hover | None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        try:
            text = hover_text(path_of(doc.uri), doc.source, params.position.line, params.position.character)
        except Exception:  # pragma: no cover - defensive: no hover rather than no server
            log.exception("hover")
            return None
        if text is None:
            return None
        return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text))

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: NoodleServer, params: lsp.DefinitionParams) -> lsp.Location | None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        try:
            d = lookup(path_of(doc.uri), doc.source, params.position.line, params.position.character)
        except Exception:  # pragma: no cover - defensive
            log.exception("definition")
            return None
        if d is None:
            return None
        uri = doc.uri if d.span.file == str(path_of(doc.uri)) else Path(d.span.file).resolve().as_uri()
        return lsp.Location(uri, _range(d.span))

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(ls: NoodleServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        kinds = {"function": lsp.SymbolKind.Function, "method": lsp.SymbolKind.Method, "struct": lsp.SymbolKind.Struct}
        out: dict[str, lsp.DocumentSymbol] = {}
        for key, d in declarations(doc.source, str(path_of(doc.uri))).items():
            owner, _, short = key.rpartition(".")
            symbol = lsp.DocumentSymbol(short, kinds[d.kind], _range(d.span), _range(d.span),
                                        detail=d.signature.splitlines()[0], children=[])
            if owner and owner in out:
                out[owner].children.append(symbol)
            else:
                out[key] = symbol
        return list(out.values())

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["."]))
    def completion(ls: NoodleServer, params: lsp.CompletionParams) -> list[lsp.CompletionItem]:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        try:
            return completions(path_of(doc.uri), doc.source, params.position.line, params.position.character)
        except Exception:  # pragma: no cover - defensive
            log.exception("completion")
            return []

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: NoodleServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        try:
            result = format_source(doc.source, path_of(doc.uri).name)
        except FormatError:
            return None  # the diagnostics already say what is wrong
        if result == doc.source:
            return []
        lines = doc.source.split("\n")
        end = lsp.Position(len(lines) - 1, len(lines[-1]))
        return [lsp.TextEdit(lsp.Range(lsp.Position(0, 0), end), result)]

    return server


def serve() -> int:
    """Run the server over stdio until the client says exit."""
    make_server().start_io()
    return 0
