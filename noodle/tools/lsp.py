"""`noodle lsp`: the Noodle language server (LSP over stdio, built on pygls).

What it offers:

* diagnostics (errors and warnings, with their related places) when a document is opened or
  changed, debounced, the document compiled from the editor's text, not from disk; the modules
  it imports are read from the workspace (the document's folder is the source root, as for
  `noodle run`), an open document's text standing for its file;
* hover: the type of the expression or name under the cursor, a function's signature and doc
  comment, a struct's fields (:mod:`noodle.tools.lsp_hover`);
* go to definition, find references and rename across the workspace's modules (a rename that
  would clash or change what a name means is refused, with the reason), document and workspace
  symbols, signature help (:mod:`noodle.tools.lsp_index`);
* completion: the locals and parameters in scope, keywords, declarations and imports; after a dot
  the fields and methods of the expression's type (structs, `str`, `List`, `Map`, `Array`), an
  imported module's exports, a standard module's functions (:mod:`noodle.tools.lsp_complete`);
* code lenses and inlay hints from `--explain` above each function, loop nest and array
  expression, and a code action adding or removing `@no_optimize` (:mod:`noodle.tools.lsp_explain`);
* semantic tokens (:mod:`noodle.tools.lsp_tokens`);
* document formatting with `noodle fmt`'s layout (:mod:`noodle.tools.fmt`).

A document with errors mid-edit is the normal case: every request answers (with what it can, or
nothing), the server never goes down with the document.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any, Callable, TypeVar

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.workspace import PositionCodec

from noodle.compiler import ast
from noodle.compiler.diagnostics import Diagnostic
from noodle.compiler.record import Occurrence
from noodle.tools.fmt import FormatError, format_source
from noodle.tools.lsp_index import Analysis, RenameRefused, analyse, rename_edits, references, text_of, workspace_modules
from noodle.tools.lsp_complete import Request, complete
from noodle.tools.lsp_source import declarations, hover_text, lookup, path_of

#: seconds a document must rest after a change before it is compiled again
DEBOUNCE_S = 0.25
log = logging.getLogger(__name__)
_F = TypeVar("_F", bound=Callable[..., Any])


# ------------------------------------------------------------------ diagnostics


def diagnostics_of(path: Path, source: str, overrides: dict[Path, str] | None = None) -> list[Diagnostic]:
    """Errors and warnings of the module in `path` whose text is `source` (imports from `overrides`
    or the disk)."""
    return analyse(path, source, overrides).diagnostics


def _range(span: ast.Span) -> lsp.Range:
    return lsp.Range(lsp.Position(max(span.line - 1, 0), max(span.col - 1, 0)),
                     lsp.Position(max(span.end_line - 1, 0), max(span.end_col - 1, 0)))


def _occurrence_range(o: Occurrence) -> lsp.Range:
    return lsp.Range(lsp.Position(o.line - 1, o.col - 1), lsp.Position(o.line - 1, o.col - 1 + o.length))


class ClientUnits:
    """Columns as the client counts them.

    The compiler's columns count code points; an LSP position counts UTF-16 code units unless the
    client offered another encoding at initialisation (pygls negotiates it: `utf-32` when offered
    first, and the workspace's codec then converts nothing).  Every position the server takes goes
    through :meth:`at` and every range it gives through :meth:`range`, so a character outside the
    BMP (an emoji in a comment) shifts no later column.  One per request: it keeps each file's lines.
    """

    def __init__(self, codec: PositionCodec, overrides: dict[Path, str]) -> None:
        self.codec = codec
        self.overrides = overrides
        self._lines: dict[str, list[str] | None] = {}

    def lines(self, file: str | Path) -> list[str] | None:
        """The lines of a module (the editor's text if open), split where the compiler counts lines."""
        key = str(file)
        if key not in self._lines:
            text = text_of(Path(file), self.overrides)
            self._lines[key] = None if text is None else text.split("\n")
        return self._lines[key]

    def at(self, file: str | Path, position: lsp.Position) -> tuple[int, int]:
        """A client's position in `file` as a 0-based (line, code-point column)."""
        lines = self.lines(file)
        if lines is None:
            return position.line, position.character
        # a copy: the codec clips (writes) an out-of-line character on the object it is given
        p = self.codec.position_from_client_units(lines, lsp.Position(position.line, position.character))
        return p.line, p.character

    def range(self, file: str | Path, r: lsp.Range) -> lsp.Range:
        """A range of code-point columns in `file` as the client counts it."""
        lines = self.lines(file)
        return r if lines is None else self.codec.range_to_client_units(lines, r)

    def location(self, uri: str, file: str | Path, r: lsp.Range) -> lsp.Location:
        return lsp.Location(uri, self.range(file, r))


def to_lsp(d: Diagnostic, uri: str, units: ClientUnits) -> lsp.Diagnostic:
    """A compiler diagnostic of the document `uri` as the client shows it."""
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "") + "".join(f"\nnote: {n}" for n in d.notes)
    related = [lsp.DiagnosticRelatedInformation(units.location(uri if span.file == path_of(uri).as_posix() else
                                                               Path(span.file).resolve().as_uri(), span.file,
                                                               _range(span)), text)
               for span, text in d.related]
    return lsp.Diagnostic(units.range(path_of(uri), _range(d.span)), message,
                          lsp.DiagnosticSeverity.Error if d.severity == "error" else lsp.DiagnosticSeverity.Warning,
                          code=d.code, source="noodle", related_information=related or None)


# ------------------------------------------------------------------ the server


def answering(default: Any) -> Callable[[_F], _F]:
    """A request handler that answers `default` (and logs) where a compiler bug would raise: the
    server outlives any document.  A refusal meant for the user (:class:`JsonRpcException`) passes."""
    def wrap(handler: _F) -> _F:
        @functools.wraps(handler)
        def answer(*args: Any) -> Any:
            try:
                return handler(*args)
            except JsonRpcException:
                raise
            except Exception:
                log.exception("%s", handler.__name__)
                return default
        return answer  # type: ignore[return-value]
    return wrap


class _RefusalsAreNotErrors(logging.Filter):
    """pygls logs every error response with a traceback; a refusal meant for the user (a rename
    that would clash) is an answer, not a fault of the server."""

    def filter(self, record: logging.LogRecord) -> bool:
        e = record.exc_info[1] if record.exc_info else None
        return not (isinstance(e, JsonRpcException) and e.code == lsp.LSPErrorCodes.RequestFailed)


class NoodleServer(LanguageServer):
    """The language server: pygls plus the debounced compile of each open document."""

    def __init__(self) -> None:
        from noodle.version import __version__

        super().__init__("noodle", __version__)
        self._pending: dict[str, asyncio.TimerHandle] = {}
        #: per document, its last text that parsed (signature help while a call is half written)
        self.parsed: dict[str, str] = {}

    def schedule(self, uri: str, delay: float = DEBOUNCE_S) -> None:
        old = self._pending.pop(uri, None)
        if old is not None:
            old.cancel()
        self._pending[uri] = asyncio.get_running_loop().call_later(delay, self.publish, uri)

    def overrides(self) -> dict[Path, str]:
        """The open documents' texts, standing for their files."""
        return {path_of(uri).resolve(): doc.source for uri, doc in self.workspace.text_documents.items()}

    def units(self) -> ClientUnits:
        """Column conversion for one request (the negotiated position encoding, the open texts)."""
        return ClientUnits(self.workspace.position_codec, self.overrides())

    def analysis(self, uri: str) -> Analysis:
        doc = self.workspace.get_text_document(uri)
        result = analyse(path_of(uri), doc.source, self.overrides())
        if result.parsed:
            self.parsed[uri] = doc.source
        return result

    def uri_for(self, file: str) -> str:
        """The URI of a module file: the open document's own URI when it is open."""
        for uri in self.workspace.text_documents:
            if str(path_of(uri)) == file:
                return uri
        return Path(file).resolve().as_uri()

    def publish(self, uri: str) -> None:
        self._pending.pop(uri, None)
        doc = self.workspace.get_text_document(uri)
        try:
            units = self.units()
            found = [to_lsp(d, uri, units) for d in self.analysis(uri).diagnostics]
        except Exception as e:  # a compiler bug must not take the editor's server down
            log.exception("compiling %s", uri)
            found = [lsp.Diagnostic(lsp.Range(lsp.Position(0, 0), lsp.Position(0, 1)),
                                    f"internal compiler error: {type(e).__name__}: {e}",
                                    lsp.DiagnosticSeverity.Error, source="noodle")]
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, found, version=doc.version))


def make_server() -> NoodleServer:
    from noodle.tools import lsp_explain, lsp_hover, lsp_tokens

    logging.getLogger("pygls.protocol.json_rpc").addFilter(_RefusalsAreNotErrors())
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
    @answering(None)
    def hover(ls: NoodleServer, params: lsp.HoverParams) -> lsp.Hover | None:
        uri = params.text_document.uri
        line, col = ls.units().at(path_of(uri), params.position)
        doc = ls.workspace.get_text_document(uri)
        text = lsp_hover.hover_markdown(ls.analysis(uri), line, col, ls.overrides())
        if text is None:
            text = hover_text(path_of(uri), doc.source, line, col)
        return None if text is None else lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text))

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    @answering(None)
    def definition(ls: NoodleServer, params: lsp.DefinitionParams) -> lsp.Location | None:
        uri, units = params.text_document.uri, ls.units()
        line, col = units.at(path_of(uri), params.position)
        a = ls.analysis(uri)
        o = a.occurrence_at(line, col)
        if o is not None:
            target = lsp_hover.definition_of(a, o, ls.overrides())
            return None if target is None else units.location(ls.uri_for(target.file), target.file,
                                                               _occurrence_range(target))
        d = lookup(a.path, a.source, line, col)  # a text that does not check: by name
        if d is None:
            return None
        return units.location(ls.uri_for(d.span.file), d.span.file, _range(d.span))

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    @answering([])
    def find_references(ls: NoodleServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
        units = ls.units()
        a = ls.analysis(params.text_document.uri)
        o = a.occurrence_at(*units.at(a.path, params.position))
        if o is None:
            return []
        return [units.location(ls.uri_for(x.file), x.file, _occurrence_range(x))
                for x in references(a, o.symbol, ls.overrides())
                if params.context.include_declaration or not x.definition]

    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    @answering(None)
    def prepare_rename(ls: NoodleServer, params: lsp.PrepareRenameParams) -> lsp.Range | None:
        units = ls.units()
        a = ls.analysis(params.text_document.uri)
        o = a.occurrence_at(*units.at(a.path, params.position))
        if o is None or o.kind == "module":
            raise JsonRpcException("there is no name of this program here to rename"
                                   if o is None else "a module's name is its file's name: rename the file",
                                   code=lsp.LSPErrorCodes.RequestFailed)
        return units.range(o.file, _occurrence_range(o))

    @server.feature(lsp.TEXT_DOCUMENT_RENAME, lsp.RenameOptions(prepare_provider=True))
    @answering(None)
    def rename(ls: NoodleServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
        units = ls.units()
        a = ls.analysis(params.text_document.uri)
        try:
            by_file = rename_edits(a, *units.at(a.path, params.position), params.new_name, ls.overrides())
        except RenameRefused as e:
            raise JsonRpcException(str(e), code=lsp.LSPErrorCodes.RequestFailed) from None
        return lsp.WorkspaceEdit(changes={
            ls.uri_for(str(path)): [lsp.TextEdit(units.range(path, _occurrence_range(o)), params.new_name)
                                    for o in places]
            for path, places in by_file.items()})

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @answering([])
    def symbols(ls: NoodleServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        units = ls.units()
        out: dict[str, lsp.DocumentSymbol] = {}
        for key, d in declarations(doc.source, str(path_of(doc.uri))).items():
            owner, _, short = key.rpartition(".")
            where = units.range(path_of(doc.uri), _range(d.span))
            symbol = lsp.DocumentSymbol(short, _SYMBOL_KINDS[d.kind], where, where,
                                        detail=d.signature.splitlines()[0], children=[])
            if owner and owner in out:
                out[owner].children.append(symbol)
            else:
                out[key] = symbol
        return list(out.values())

    @server.feature(lsp.WORKSPACE_SYMBOL)
    @answering([])
    def workspace_symbols(ls: NoodleServer, params: lsp.WorkspaceSymbolParams) -> list[lsp.SymbolInformation]:
        query = params.query.lower()
        overrides = ls.overrides()
        units = ClientUnits(ls.workspace.position_codec, overrides)
        out = []
        for path in _workspace_files(ls):
            text = text_of(path, overrides)
            if text is None:
                continue
            for key, d in declarations(text, str(path)).items():
                if query in key.lower():
                    owner = key.rpartition(".")[0]
                    out.append(lsp.SymbolInformation(
                        name=key.rpartition(".")[2], kind=_SYMBOL_KINDS[d.kind],
                        location=units.location(ls.uri_for(str(path)), path, _range(d.span)),
                        container_name=owner or path.stem))
        return out

    @server.feature(lsp.TEXT_DOCUMENT_SIGNATURE_HELP, lsp.SignatureHelpOptions(trigger_characters=["(", ","],
                                                                               retrigger_characters=[","]))
    @answering(None)
    def signature_help(ls: NoodleServer, params: lsp.SignatureHelpParams) -> lsp.SignatureHelp | None:
        uri = params.text_document.uri
        doc = ls.workspace.get_text_document(uri)
        site = lsp_hover.call_site(doc.source, *ls.units().at(path_of(uri), params.position))
        if site is None:
            return None
        a = ls.analysis(uri)
        d = lsp_hover.signature_of_call(a, site, ls.overrides(), ls.parsed.get(uri))
        if d is None:
            return None
        label = d.signature.replace("\n", " ") if d.kind != "struct" else f"{d.name}({', '.join(d.params)})"
        return lsp.SignatureHelp([lsp.SignatureInformation(
            label, documentation=d.doc or None,
            parameters=[lsp.ParameterInformation(p) for p in d.params])],
            active_signature=0, active_parameter=min(site.active, max(len(d.params) - 1, 0)))

    @server.feature(lsp.TEXT_DOCUMENT_CODE_LENS)
    @answering([])
    def code_lens(ls: NoodleServer, params: lsp.CodeLensParams) -> list[lsp.CodeLens]:
        a = ls.analysis(params.text_document.uri)
        return [lsp.CodeLens(lsp.Range(lsp.Position(e.line - 1, 0), lsp.Position(e.line - 1, 0)),
                             lsp.Command(e.text, ""))
                for e in _explained(a)]

    @server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT)
    @answering([])
    def inlay_hints(ls: NoodleServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
        a = ls.analysis(params.text_document.uri)
        lines = a.source.split("\n")
        first, last = params.range.start.line, params.range.end.line
        codec = ls.workspace.position_codec
        return [lsp.InlayHint(codec.position_to_client_units(lines, lsp.Position(e.line - 1, len(lines[e.line - 1]))),
                              f"⟵ {e.summary}", tooltip=e.text, padding_left=True)
                for e in _explained(a) if first <= e.line - 1 <= last and e.line - 1 < len(lines)]

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.RefactorRewrite]))
    @answering([])
    def code_actions(ls: NoodleServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        edit = lsp_explain.no_optimize_edit(doc.source, str(path_of(doc.uri)), params.range.start.line)
        if edit is None:
            return []
        change = lsp.TextEdit(lsp.Range(lsp.Position(edit.start, 0), lsp.Position(edit.end, 0)), edit.text)
        return [lsp.CodeAction(edit.title, kind=lsp.CodeActionKind.RefactorRewrite,
                               edit=lsp.WorkspaceEdit(changes={doc.uri: [change]}))]

    @server.feature(lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
                    lsp.SemanticTokensLegend(token_types=lsp_tokens.TOKEN_TYPES,
                                             token_modifiers=lsp_tokens.TOKEN_MODIFIERS))
    @answering(lsp.SemanticTokens(data=[]))
    def semantic_tokens(ls: NoodleServer, params: lsp.SemanticTokensParams) -> lsp.SemanticTokens:
        a = ls.analysis(params.text_document.uri)
        return lsp.SemanticTokens(data=lsp_tokens.semantic_tokens(a.source, a.recorder.occurrences, a.file,
                                                                  ls.workspace.position_codec.client_num_units))

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["."]))
    @answering([])
    def completion(ls: NoodleServer, params: lsp.CompletionParams) -> list[lsp.CompletionItem]:
        uri = params.text_document.uri
        doc = ls.workspace.get_text_document(uri)
        ls.analysis(uri)  # keeps the document's last text that parsed up to date
        return complete(Request(path_of(uri), doc.source, *ls.units().at(path_of(uri), params.position),
                                ls.overrides(), ls.parsed.get(uri)))

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    @answering(None)
    def formatting(ls: NoodleServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        try:
            result = format_source(doc.source, path_of(doc.uri).name)
        except FormatError:
            return None  # the diagnostics already say what is wrong
        if result == doc.source:
            return []
        lines = doc.source.split("\n")
        end = ls.workspace.position_codec.position_to_client_units(lines, lsp.Position(len(lines) - 1, len(lines[-1])))
        return [lsp.TextEdit(lsp.Range(lsp.Position(0, 0), end), result)]

    return server


_SYMBOL_KINDS = {"function": lsp.SymbolKind.Function, "method": lsp.SymbolKind.Method, "struct": lsp.SymbolKind.Struct}


def _workspace_files(ls: NoodleServer) -> list[Path]:
    """The modules of every workspace folder the client named, and of the open documents' folders."""
    roots = {path_of(f.uri) for f in ls.workspace.folders.values()}
    roots |= {path_of(uri).parent for uri in ls.workspace.text_documents}
    files: dict[Path, None] = {}
    for root in sorted(roots):
        for path in workspace_modules(root):
            files.setdefault(path.resolve(), None)
    return list(files)


def _explained(a: Analysis) -> list:
    """The `--explain` sentences of a module that compiled ([] while it does not)."""
    from noodle.tools.lsp_explain import explanations

    if a.compiled is None:
        return []
    if a.explained is None:
        a.explained = explanations(a.compiled)
    return a.explained


def serve() -> int:
    """Run the server over stdio until the client says exit."""
    make_server().start_io()
    return 0
