"""`noodle lsp` end to end: pygls's LanguageClient drives the real server process over JSON-RPC.

A two-module workspace (tmp_path): diagnostics come from the editor's text (not the file on disk)
and follow its edits, imports resolve from the workspace, hover shows signatures and doc comments
across modules, formatting returns `noodle fmt`'s layout, and a document broken mid-edit never
takes the server down.  Every wait is on an event (a published diagnostics notification or a
response), bounded only by a generous timeout for a loaded machine.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from noodle.tools.fmt import format_source

GEO = """\
module geo

// A point in the plane.
struct Point {
    x: float
    y: float
}

// The distance between two points.
fn dist(a: Point, b: Point) -> float {
    return ((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5
}
"""

MAIN = """\
import geo

// Twice n.
fn double(n: int) -> int {
    return n * 2
}

fn main() {
    print(double(2), geo.dist(geo.Point(0.0, 0.0), geo.Point(3.0, 4.0)))
}
"""

WAIT_S = 120  # a bound for a loaded machine, not a speed assertion


class Session:
    """A client connected to a `noodle lsp` process, collecting the diagnostics it publishes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.client = LanguageClient("noodle-tests", "1")
        self.published: asyncio.Queue[lsp.PublishDiagnosticsParams] = asyncio.Queue()

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
            self.published.put_nowait(params)

    async def start(self, capabilities: lsp.ClientCapabilities | None = None) -> None:
        await self.client.start_io(str(Path(sys.executable).parent / "noodle"), "lsp")
        # the server logs to its stderr: read it (a full pipe would stop the server) and keep it
        self.log = bytearray()
        self._drain = asyncio.create_task(self._read_log(self.client._server.stderr))
        result = await asyncio.wait_for(self.client.initialize_async(lsp.InitializeParams(
            capabilities=capabilities or lsp.ClientCapabilities(), root_uri=self.root.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(self.root.as_uri(), "ws")])), WAIT_S)
        self.capabilities = result.capabilities
        self.client.initialized(lsp.InitializedParams())

    async def _read_log(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.log += chunk

    async def diagnostics(self, uri: str, version: int) -> list[lsp.Diagnostic]:
        """The diagnostics published for `uri` at `version` (earlier versions' are skipped)."""
        while True:
            params = await asyncio.wait_for(self.published.get(), WAIT_S)
            if params.uri == uri and params.version == version:
                return list(params.diagnostics)

    def open(self, uri: str, text: str) -> None:
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri, "noodle", 1, text)))

    def change(self, uri: str, version: int, text: str) -> None:
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version, uri),
            [lsp.TextDocumentContentChangeWholeDocument(text)]))

    async def hover(self, uri: str, line: int, character: int) -> lsp.Hover | None:
        return await asyncio.wait_for(self.client.text_document_hover_async(lsp.HoverParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(line, character))), WAIT_S)

    async def stop(self) -> None:
        await asyncio.wait_for(self.client.shutdown_async(None), WAIT_S)
        self.client.exit(None)
        await self.client.stop()
        await asyncio.wait_for(self._drain, WAIT_S)
        # a request the server answered by swallowing an exception is still a bug
        assert b"Traceback" not in self.log, self.log.decode(errors="replace")[-4000:]


def _run(root: Path, scenario, capabilities: lsp.ClientCapabilities | None = None) -> None:  # noqa: ANN001
    async def main() -> None:
        session = Session(root)
        await session.start(capabilities)
        try:
            await scenario(session)
        finally:
            await session.stop()

    asyncio.run(main())


def _workspace(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "geo.nd").write_text(GEO, encoding="utf-8")
    (tmp_path / "main.nd").write_text(MAIN, encoding="utf-8")
    return tmp_path, (tmp_path / "main.nd").as_uri()


def test_diagnostics_follow_the_editors_text_with_imports_from_the_workspace(tmp_path: Path) -> None:
    root, uri = _workspace(tmp_path)

    async def scenario(s: Session) -> None:
        assert s.capabilities.hover_provider and s.capabilities.document_formatting_provider
        s.open(uri, MAIN)
        assert await s.diagnostics(uri, 1) == []  # geo resolved from the workspace
        s.change(uri, 2, MAIN.replace("double(2)", 'double("two")'))
        [d] = await s.diagnostics(uri, 2)
        assert d.code == "E0200" and d.severity == lsp.DiagnosticSeverity.Error
        assert (d.range.start.line, d.range.start.character) == (8, 17)
        s.change(uri, 3, MAIN.replace("geo.dist", "geo.distance"))
        [d] = await s.diagnostics(uri, 3)
        assert "distance" in d.message
        s.change(uri, 4, MAIN)
        assert await s.diagnostics(uri, 4) == []

    _run(root, scenario)
    assert (tmp_path / "main.nd").read_text(encoding="utf-8") == MAIN  # compiled from memory, nothing written


def test_a_document_broken_mid_edit_never_takes_the_server_down(tmp_path: Path) -> None:
    root, uri = _workspace(tmp_path)
    broken = [MAIN[:n] for n in range(0, len(MAIN), 7)]
    broken += [MAIN.replace("return n * 2", "return n * "), MAIN.replace("geo.dist(", "geo.dist(1, "),
               MAIN.replace("print(", "print(double(double("), "fn f() -> int { return \"x\" }\n" + MAIN]
    broken += ["fn main( {", "\u0000\"", "struct {{{{", "import nowhere\n"]

    async def scenario(s: Session) -> None:
        s.open(uri, MAIN)
        await s.diagnostics(uri, 1)
        version = 1
        for text in broken:
            version += 1
            s.change(uri, version, text)
            await s.hover(uri, 0, 3)  # requests on a broken text still answer
            await every_request(s, uri, text)
        errors = await s.diagnostics(uri, version)
        assert errors and errors[0].code == "E0400"  # `import nowhere`
        version += 1
        s.change(uri, version, MAIN)
        assert await s.diagnostics(uri, version) == []

    _run(root, scenario)


async def every_request(s: Session, uri: str, text: str) -> None:
    """Ask the server everything it answers, at a few places of `text`; only a designed refusal
    (RequestFailed, from rename) may come back as an error."""
    from pygls.exceptions import JsonRpcException

    doc = lsp.TextDocumentIdentifier(uri)
    lines = text.splitlines() or [""]
    c = s.client
    for line in {0, len(lines) // 2, len(lines) - 1}:
        for character in {0, len(lines[line]) // 2, len(lines[line])}:
            where = lsp.Position(line, character)
            requests = [
                c.text_document_hover_async(lsp.HoverParams(doc, where)),
                c.text_document_definition_async(lsp.DefinitionParams(doc, where)),
                c.text_document_references_async(lsp.ReferenceParams(lsp.ReferenceContext(True), doc, where)),
                c.text_document_rename_async(lsp.RenameParams(doc, where, "renamed")),
                c.text_document_signature_help_async(lsp.SignatureHelpParams(doc, where)),
                c.text_document_completion_async(lsp.CompletionParams(doc, where)),
                c.text_document_code_action_async(lsp.CodeActionParams(
                    doc, lsp.Range(where, where), lsp.CodeActionContext(diagnostics=[]))),
            ]
            for request in requests:
                try:
                    await asyncio.wait_for(request, WAIT_S)
                except JsonRpcException as e:
                    assert e.code == lsp.LSPErrorCodes.RequestFailed, e
    whole = lsp.Range(lsp.Position(0, 0), lsp.Position(len(lines), 0))
    for request in [c.text_document_code_lens_async(lsp.CodeLensParams(doc)),
                    c.text_document_inlay_hint_async(lsp.InlayHintParams(doc, whole)),
                    c.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(doc)),
                    c.text_document_document_symbol_async(lsp.DocumentSymbolParams(doc)),
                    c.workspace_symbol_async(lsp.WorkspaceSymbolParams("")),
                    c.text_document_formatting_async(lsp.DocumentFormattingParams(doc, lsp.FormattingOptions(4, True)))]:
        await asyncio.wait_for(request, WAIT_S)


def test_hover_shows_signatures_and_doc_comments_across_modules(tmp_path: Path) -> None:
    root, uri = _workspace(tmp_path)

    async def scenario(s: Session) -> None:
        s.open(uri, MAIN)
        await s.diagnostics(uri, 1)
        mine = await s.hover(uri, 8, 11)  # double(2)
        assert "fn double(n: int) -> int" in mine.contents.value and "Twice n." in mine.contents.value
        theirs = await s.hover(uri, 8, 27)  # geo.dist
        assert "fn dist(a: Point, b: Point) -> float" in theirs.contents.value
        assert "The distance between two points." in theirs.contents.value
        struct = await s.hover(uri, 8, 37)  # geo.Point
        assert "x: float" in struct.contents.value and "A point in the plane." in struct.contents.value
        assert await s.hover(uri, 7, 0) is None  # `fn` keyword: nothing to say

    _run(root, scenario)


def test_document_formatting_is_noodle_fmt(tmp_path: Path) -> None:
    root, uri = _workspace(tmp_path)
    messy = MAIN.replace("n * 2", "n*2").replace("fn main() {", "fn main( ){")

    async def scenario(s: Session) -> None:
        s.open(uri, messy)
        await s.diagnostics(uri, 1)
        [edit] = await asyncio.wait_for(s.client.text_document_formatting_async(lsp.DocumentFormattingParams(
            lsp.TextDocumentIdentifier(uri), lsp.FormattingOptions(4, True))), WAIT_S)
        assert edit.new_text == format_source(messy) == MAIN
        assert (edit.range.start.line, edit.range.start.character) == (0, 0)
        s.change(uri, 2, "fn main( {\n")
        await s.diagnostics(uri, 2)
        none = await asyncio.wait_for(s.client.text_document_formatting_async(lsp.DocumentFormattingParams(
            lsp.TextDocumentIdentifier(uri), lsp.FormattingOptions(4, True))), WAIT_S)
        assert not none  # a text that does not parse is left alone

    _run(root, scenario)


def test_definition_symbols_and_completion(tmp_path: Path) -> None:
    root, uri = _workspace(tmp_path)
    geo_uri = (tmp_path / "geo.nd").as_uri()

    async def scenario(s: Session) -> None:
        s.open(uri, MAIN)
        await s.diagnostics(uri, 1)
        where = await asyncio.wait_for(s.client.text_document_definition_async(lsp.DefinitionParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(8, 27))), WAIT_S)  # geo.dist
        assert where.uri == geo_uri and (where.range.start.line, where.range.start.character) == (9, 3)
        local = await asyncio.wait_for(s.client.text_document_definition_async(lsp.DefinitionParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(8, 11))), WAIT_S)  # double
        assert local.uri == uri and local.range.start.line == 3
        symbols = await asyncio.wait_for(s.client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
            lsp.TextDocumentIdentifier(uri))), WAIT_S)
        assert [(x.name, x.kind) for x in symbols] == [("double", lsp.SymbolKind.Function),
                                                        ("main", lsp.SymbolKind.Function)]
        s.change(uri, 2, MAIN.replace("geo.dist(", "geo.d("))
        await s.diagnostics(uri, 2)
        items = await asyncio.wait_for(s.client.text_document_completion_async(lsp.CompletionParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(8, 26))), WAIT_S)
        assert sorted(i.label for i in items) == ["Point", "dist"]
        everywhere = await asyncio.wait_for(s.client.text_document_completion_async(lsp.CompletionParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(8, 4))), WAIT_S)
        labels = {i.label for i in everywhere}
        assert {"while", "double", "main", "geo"} <= labels

    _run(root, scenario)


# ------------------------------------------------------------------ the checker's record: types, references, rename

GEO_FULL = """\
module geo

// A point in the plane.
struct Point {
    x: float
    y: float

    // Its distance from the origin.
    fn norm(self) -> float {
        return (self.x * self.x + self.y * self.y) ** 0.5
    }
}

// The distance between two points.
fn dist(a: Point, b: Point) -> float {
    return ((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5
}
"""

MAIN_FULL = """\
import geo

// Twice n.
fn double(n: int) -> int {
    let m = n * 2
    return m
}

fn main() {
    let p = geo.Point(0.0, 0.0)
    let far = geo.dist(p, geo.Point(x: 3.0, y: 4.0)) > 1.0
    print(double(2), far, p.x, p.norm())
}
"""

STATS = """\
from geo import dist as d, Point

fn far(p: Point) -> bool {
    return d(p, Point(0.0, 0.0)) > 10.0
}
"""


def _full_workspace(tmp_path: Path) -> tuple[Path, str, str, str]:
    (tmp_path / "geo.nd").write_text(GEO_FULL, encoding="utf-8")
    (tmp_path / "main.nd").write_text(MAIN_FULL, encoding="utf-8")
    (tmp_path / "stats.nd").write_text(STATS, encoding="utf-8")
    return tmp_path, (tmp_path / "main.nd").as_uri(), (tmp_path / "geo.nd").as_uri(), (tmp_path / "stats.nd").as_uri()


def _where(locations) -> set[tuple[str, int, int]]:  # noqa: ANN001 - lsp Locations
    return {(Path(loc.uri).name, loc.range.start.line, loc.range.start.character) for loc in locations}


def test_hover_shows_the_type_of_any_expression(tmp_path: Path) -> None:
    root, uri, _, _ = _full_workspace(tmp_path)

    async def scenario(s: Session) -> None:
        s.open(uri, MAIN_FULL)
        assert await s.diagnostics(uri, 1) == []
        cases = {
            (4, 8): "(variable) m: int",  # a local where it is declared
            (5, 11): "(variable) m: int",  # ... and where it is used
            (3, 11): "(parameter) n: int",
            (9, 8): "(variable) p: geo.Point",
            (10, 8): "(variable) far: bool",
            (10, 40): "3.0: float",  # a literal
            (11, 28): "(field) Point.x: float",  # a field of a struct of another module
            (4, 14): "2: int",
        }
        for (line, character), expected in cases.items():
            hover = await s.hover(uri, line, character)
            assert hover is not None and expected in hover.contents.value, (line, character, hover)
        method = await s.hover(uri, 11, 34)  # p.norm(): the method of geo's struct, with its doc comment
        assert "fn norm(self) -> float" in method.contents.value and "from the origin" in method.contents.value
        # the innermost expression around the cursor: `geo.dist(...) > 1.0` is a bool, `geo.dist(...)` a float
        compare = await s.hover(uri, 10, 54)  # on `>`
        assert "bool" in compare.contents.value
        s.change(uri, 2, MAIN_FULL.replace("let m = n * 2", "let m = [n * 2.5]"))
        await s.diagnostics(uri, 2)  # an error elsewhere (m is returned as an int) does not stop the types
        typed = await s.hover(uri, 4, 8)
        assert "List<float>" in typed.contents.value

    _run(root, scenario)


def test_references_and_rename_across_the_workspace(tmp_path: Path) -> None:
    root, uri, geo_uri, stats_uri = _full_workspace(tmp_path)

    async def references(u: str, line: int, character: int) -> set[tuple[str, int, int]]:
        found = await asyncio.wait_for(s_.client.text_document_references_async(lsp.ReferenceParams(
            lsp.ReferenceContext(include_declaration=True), lsp.TextDocumentIdentifier(u),
            lsp.Position(line, character))), WAIT_S)
        return _where(found)

    async def rename(u: str, line: int, character: int, new: str) -> lsp.WorkspaceEdit:
        return await asyncio.wait_for(s_.client.text_document_rename_async(lsp.RenameParams(
            lsp.TextDocumentIdentifier(u), lsp.Position(line, character), new)), WAIT_S)

    async def scenario(s: Session) -> None:
        global s_
        s_ = s
        s.open(uri, MAIN_FULL)
        await s.diagnostics(uri, 1)
        # a function: its declaration, a qualified use, an import through an alias and the alias's use
        assert await references(uri, 10, 19) == {("geo.nd", 14, 3), ("main.nd", 10, 18), ("stats.nd", 0, 16),
                                                 ("stats.nd", 3, 11)}
        # a field: declared in geo, read there and in main, named in a constructor call
        assert await references(uri, 11, 28) == {("geo.nd", 4, 4), ("geo.nd", 9, 21), ("geo.nd", 9, 30),
                                                 ("geo.nd", 15, 15), ("geo.nd", 15, 21), ("main.nd", 10, 36),
                                                 ("main.nd", 11, 28)}
        # a method, through a value of its struct's type
        assert await references(uri, 11, 34) == {("geo.nd", 8, 7), ("main.nd", 11, 33)}
        # a local: its own function only
        assert await references(uri, 5, 11) == {("main.nd", 4, 8), ("main.nd", 5, 11)}

        edit = await rename(uri, 10, 19, "distance")
        assert {Path(u).name: sorted((e.range.start.line, e.range.start.character) for e in edits)
                for u, edits in edit.changes.items()} == {"geo.nd": [(14, 3)], "main.nd": [(10, 18)],
                                                          "stats.nd": [(0, 16)]}  # `d(...)` keeps its alias
        assert all(e.new_text == "distance" for edits in edit.changes.values() for e in edits)
        field = await rename(uri, 11, 28, "east")
        assert sum(len(edits) for edits in field.changes.values()) == 7
        local = await rename(uri, 4, 8, "twice")
        assert list(local.changes) == [uri] and len(local.changes[uri]) == 2

        refusals = [((11, 28), "y", "already has a field `y`"),  # a field's clash
                    ((10, 19), "Point", "already declares a struct `Point`"),  # a module-level clash
                    ((4, 8), "n", "already defined in this scope"),  # a local that would clash with a parameter
                    ((10, 19), "while", "not a name"),
                    ((10, 15), "x", "a module's name")]
        for (line, character), new, reason in refusals:
            try:
                await rename(uri, line, character, new)
            except Exception as e:  # the server's refusal arrives as the request's error
                assert reason in str(e), (new, str(e))
            else:
                raise AssertionError(f"renaming to {new} was not refused")
        # a local renamed to the name of a function it calls would change what that call means
        shadow = MAIN_FULL.replace("    print(double(2), far, p.x, p.norm())",
                                   "    let k = 3\n    print(double(k), far, p.x, p.norm())")
        s.change(uri, 2, shadow)
        await s.diagnostics(uri, 2)
        try:
            await rename(uri, 11, 8, "double")
        except Exception as e:
            assert "double" in str(e)
        else:
            raise AssertionError("a capturing rename was not refused")
        assert (tmp_path / "geo.nd").read_text(encoding="utf-8") == GEO_FULL  # the server edits nothing itself

    _run(root, scenario)


def test_workspace_symbols_and_signature_help(tmp_path: Path) -> None:
    root, uri, _, _ = _full_workspace(tmp_path)

    async def scenario(s: Session) -> None:
        s.open(uri, MAIN_FULL)
        await s.diagnostics(uri, 1)
        found = await asyncio.wait_for(s.client.workspace_symbol_async(lsp.WorkspaceSymbolParams("")), WAIT_S)
        names = {(x.name, Path(x.location.uri).name) for x in found}
        assert {("Point", "geo.nd"), ("norm", "geo.nd"), ("dist", "geo.nd"), ("far", "stats.nd"),
                ("double", "main.nd"), ("main", "main.nd")} <= names
        some = await asyncio.wait_for(s.client.workspace_symbol_async(lsp.WorkspaceSymbolParams("DIS")), WAIT_S)
        assert [(x.name, x.kind) for x in some] == [("dist", lsp.SymbolKind.Function)]

        # a call being written: the text does not parse, the last text that did says what `geo.dist` takes
        typing = MAIN_FULL.replace("geo.dist(p, geo.Point(x: 3.0, y: 4.0)) > 1.0", "geo.dist(p, ")
        s.change(uri, 2, typing)
        await s.diagnostics(uri, 2)
        help_ = await asyncio.wait_for(s.client.text_document_signature_help_async(lsp.SignatureHelpParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(10, 26))), WAIT_S)
        [sig] = help_.signatures
        assert sig.label == "fn dist(a: Point, b: Point) -> float"
        assert [p.label for p in sig.parameters] == ["a: Point", "b: Point"] and help_.active_parameter == 1
        s.change(uri, 3, MAIN_FULL)
        await s.diagnostics(uri, 3)
        struct = await asyncio.wait_for(s.client.text_document_signature_help_async(lsp.SignatureHelpParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(9, 22))), WAIT_S)  # geo.Point(|0.0, 0.0)
        assert struct.signatures[0].label == "Point(x: float, y: float)" and struct.active_parameter == 0
        method = await asyncio.wait_for(s.client.text_document_signature_help_async(lsp.SignatureHelpParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(11, 38))), WAIT_S)  # p.norm(|)
        assert method.signatures[0].label.startswith("fn norm(self)") and not method.signatures[0].parameters
        outside = await asyncio.wait_for(s.client.text_document_signature_help_async(lsp.SignatureHelpParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(4, 4))), WAIT_S)
        assert outside is None

    _run(root, scenario)


# ------------------------------------------------------------------ --explain in the editor, semantic tokens

KERNELS = """\
import py math as pm

fn inner(a: Array<float, 1>, b: Array<float, 1>) -> float {
    var s = 0.0
    for i in 0..len(a) { s += a[i] * b[i] }
    return s
}

fn product(a: Array<float, 2>, b: Array<float, 2>) -> Array<float, 2> {
    return a @ b
}

fn roots(n: int) -> float {
    var t = 0.0
    for i in 0..n { t += float(pm.sqrt(i)) }
    return t
}
"""


def test_explain_lenses_inlay_hints_and_the_no_optimize_action(tmp_path: Path) -> None:
    (tmp_path / "kernels.nd").write_text(KERNELS, encoding="utf-8")
    uri = (tmp_path / "kernels.nd").as_uri()

    async def lenses() -> dict[int, list[str]]:
        found = await asyncio.wait_for(s_.client.text_document_code_lens_async(lsp.CodeLensParams(
            lsp.TextDocumentIdentifier(uri))), WAIT_S)
        by_line: dict[int, list[str]] = {}
        for lens in found:
            by_line.setdefault(lens.range.start.line, []).append(lens.command.title)
        return by_line

    async def action(line: int) -> lsp.CodeAction:
        [found] = await asyncio.wait_for(s_.client.text_document_code_action_async(lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(line, 4), lsp.Position(line, 4)),
            lsp.CodeActionContext(diagnostics=[]))), WAIT_S)
        return found

    async def scenario(s: Session) -> None:
        global s_
        s_ = s
        s.open(uri, KERNELS)
        assert await s.diagnostics(uri, 1) == []
        by_line = await lenses()
        assert any("dot product recognised" in t and "BLAS" in t for t in by_line[4])  # the loop of `inner`
        assert any("matrix product" in t and "BLAS" in t for t in by_line[9])  # `a @ b`
        assert any("calls into Python" in t for t in by_line[12])  # why `roots` stays in the VM
        assert any("no intent" in t for t in by_line[14])  # and why its loop is not recognised
        hints = await asyncio.wait_for(s.client.text_document_inlay_hint_async(lsp.InlayHintParams(
            lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(0, 0), lsp.Position(20, 0)))), WAIT_S)
        labels = {(h.position.line, h.label) for h in hints}
        assert (4, "⟵ dot product → BLAS (numpy.dot)") in labels
        assert (9, "⟵ matrix product (`@`, `matmul`) → BLAS (numpy.matmul)") in labels
        assert any(line == 12 and label.startswith("⟵ VM: it calls into Python") for line, label in labels)
        assert all(h.position.character == len(KERNELS.splitlines()[h.position.line]) for h in hints)

        add = await action(4)  # inside `inner`
        assert add.title.startswith("Add @no_optimize to `inner`")
        [edit] = add.edit.changes[uri]
        assert (edit.range.start.line, edit.range.end.line, edit.new_text) == (2, 2, "@no_optimize\n")
        plain = KERNELS.replace("fn inner(", "@no_optimize\nfn inner(")
        s.change(uri, 2, plain)
        assert await s.diagnostics(uri, 2) == []
        after = await lenses()
        assert not any("recognised" in t for t in after.get(5, []))  # the loop now runs as written
        remove = await action(5)
        assert remove.title.startswith("Remove @no_optimize from `inner`")
        [edit] = remove.edit.changes[uri]
        assert (edit.range.start.line, edit.range.end.line, edit.new_text) == (2, 3, "")
        s.change(uri, 3, "fn broken( {\n" + KERNELS)
        await s.diagnostics(uri, 3)
        assert await lenses() == {}  # nothing is said about a text that does not compile

    _run(tmp_path, scenario)


def _decode(data: list[int], legend: lsp.SemanticTokensLegend, text: str) -> dict[tuple[int, str], str]:
    """(line, token text) -> token type, from the LSP's relative encoding."""
    lines = text.splitlines()
    out: dict[tuple[int, str], str] = {}
    line = col = 0
    for i in range(0, len(data), 5):
        dl, dc, length, kind, _ = data[i:i + 5]
        line += dl
        col = col + dc if dl == 0 else dc
        out.setdefault((line, lines[line][col:col + length]), legend.token_types[kind])
    return out


def test_semantic_tokens_from_the_lexer_and_the_checker(tmp_path: Path) -> None:
    root, uri, _, _ = _full_workspace(tmp_path)

    async def scenario(s: Session) -> None:
        legend = s.capabilities.semantic_tokens_provider.legend
        s.open(uri, MAIN_FULL)
        await s.diagnostics(uri, 1)
        tokens = await asyncio.wait_for(s.client.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(
            lsp.TextDocumentIdentifier(uri))), WAIT_S)
        kinds = _decode(tokens.data, legend, MAIN_FULL)
        assert kinds[(2, "// Twice n.")] == "comment"
        assert kinds[(3, "fn")] == "keyword" and kinds[(3, "double")] == "function"
        assert kinds[(3, "n")] == "parameter" and kinds[(3, "int")] == "type"
        assert kinds[(4, "m")] == "variable" and kinds[(4, "2")] == "number" and kinds[(4, "*")] == "operator"
        assert kinds[(9, "geo")] == "namespace" and kinds[(9, "Point")] == "struct"
        assert kinds[(10, "dist")] == "function" and kinds[(10, "x")] == "property"
        assert kinds[(11, "norm")] == "method" and kinds[(11, "print")] == "function"
        s.change(uri, 2, MAIN_FULL + 'fn broken( {\n    "a string // not a comment"\n')
        await s.diagnostics(uri, 2)
        broken = await asyncio.wait_for(s.client.text_document_semantic_tokens_full_async(
            lsp.SemanticTokensParams(lsp.TextDocumentIdentifier(uri))), WAIT_S)
        kinds = _decode(broken.data, legend, MAIN_FULL + 'fn broken( {\n    "a string // not a comment"\n')
        assert kinds[(13, "broken")] == "function" and kinds[(14, '"a string // not a comment"')] == "string"

    _run(root, scenario)


# ------------------------------------------------------------------ completion

COMPLETE = """\
import geo
import math

fn summary(xs: List<float>, names: Map<str, int>, scale: float) -> float {
    var acc = 0.0
    for x in xs {
        let scaled = x * scale
        acc += scaled
    }
    let grid = zeros(2, 3)
    let label = "total"
    let p = geo.Point(1.0, 2.0)
    return acc + p.norm() + math.sqrt(scale) + float(len(names) + len(label) + grid.shape[0])
}
"""


def test_completion_of_locals_members_and_modules_while_the_text_is_broken(tmp_path: Path) -> None:
    from noodle.compiler.checker.arrays import ARRAY_MEMBERS
    from noodle.stdlib.signatures import METHODS, MODULE_CONSTANTS, MODULES

    root, _, _, _ = _full_workspace(tmp_path)
    uri = (root / "summary.nd").as_uri()
    lines = COMPLETE.split("\n")

    async def labels(line: int, character: int) -> set[str]:
        items = await asyncio.wait_for(s_.client.text_document_completion_async(lsp.CompletionParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(line, character))), WAIT_S)
        return {i.label for i in items if i.kind != lsp.CompletionItemKind.Keyword}

    async def typed(version: int, text: str, line: int) -> set[str]:
        """The labels offered at the end of `text`, inserted as line `line` of the document."""
        s_.change(uri, version, "\n".join([*lines[:line], text, *lines[line:]]))
        return await labels(line, len(text))

    async def scenario(s: Session) -> None:
        nonlocal s_
        s_ = s
        s.open(uri, COMPLETE)
        assert await s.diagnostics(uri, 1) == []
        # names: the locals in scope at the cursor (a loop's variables only inside it), then the module's
        in_loop = await labels(7, 8)
        assert {"scaled", "x", "acc", "xs", "names", "scale", "summary", "geo", "math"} <= in_loop
        assert not {"grid", "label", "p"} & in_loop
        after = await labels(12, 4)
        assert {"grid", "label", "p", "acc", "xs"} <= after and not {"x", "scaled"} & after
        # after a dot: what the receiver's recorded type has, built-in tables as the checker has them
        assert await typed(2, "    p.", 12) == {"x", "y", "norm"}
        assert await typed(3, "    label.", 12) == {m for k, m in METHODS if k == "str"}
        assert await typed(4, "    xs.", 12) == {m for k, m in METHODS if k == "List"}
        assert await typed(5, "    names.", 12) == {m for k, m in METHODS if k == "Map"}
        assert await typed(6, "    grid.", 12) == set(ARRAY_MEMBERS) == {"shape", "reshape", "copy"}
        assert await typed(7, "    let q = geo.dist(p.no", 12) == {"x", "y", "norm"}  # inside a call, a prefix
        assert await typed(8, "    geo.", 12) == {"Point", "dist"}
        assert await typed(9, "    math.", 12) == set(MODULES["math"]) | set(MODULE_CONSTANTS["math"])
        assert await typed(10, "    acc.", 12) == set()  # a float has no members
        # the rest of the document cut off mid-edit: the last text that parsed answers
        s.change(uri, 11, "\n".join([*lines[:12], "    if p."]))
        assert await labels(12, len("    if p.")) == {"x", "y", "norm"}
        s.change(uri, 12, "\n".join([*lines[:12], "    let q = "]))
        broken = await labels(12, len("    let q = "))
        assert {"grid", "label", "p", "acc", "summary", "geo"} <= broken and "x" not in broken
        await s.hover(uri, 3, 5)  # the server still answers
        # names a `from` import brings in
        stats = (root / "stats.nd").as_uri()
        s.open(stats, STATS)
        items = await asyncio.wait_for(s.client.text_document_completion_async(lsp.CompletionParams(
            lsp.TextDocumentIdentifier(stats), lsp.Position(3, 4))), WAIT_S)
        assert {"d", "Point", "p", "far"} <= {i.label for i in items}

    s_: Session
    _run(root, scenario)


# emoji (outside the BMP: two UTF-16 code units, one code point) in front of names on their lines
EMOJI = """\
/* 🍜🍜 */ fn double(n: int) -> int {
    return n * 2
}

fn main() {
    print("🍜", double(2))
}
"""


def _u16(line: str, index: int) -> int:
    """The UTF-16 column of code point `index` of `line` (what an editor sends and expects)."""
    return len(line[:index].encode("utf-16-le")) // 2


def test_positions_are_utf16_code_units_on_lines_with_emoji(tmp_path: Path) -> None:
    (tmp_path / "main.nd").write_text(EMOJI, encoding="utf-8")
    uri = (tmp_path / "main.nd").as_uri()
    lines = EMOJI.split("\n")
    decl, call = lines[0].index("double"), lines[5].index("double")
    at_decl, at_call = (0, _u16(lines[0], decl)), (5, _u16(lines[5], call))
    assert at_call[1] == call + 1 and at_decl[1] == decl + 2  # the test means what it says

    async def scenario(s: Session) -> None:
        c = s.client
        s.open(uri, EMOJI)
        assert await s.diagnostics(uri, 1) == []
        hover = await s.hover(uri, *at_call)
        assert hover is not None and "fn double(n: int) -> int" in hover.contents.value
        # the space before the name (read as a code-point column, the name's own first column): the
        # enclosing call's type, not the function's signature
        before = await s.hover(uri, 5, at_call[1] - 1)
        assert before is None or "fn double" not in before.contents.value
        target = await asyncio.wait_for(c.text_document_definition_async(lsp.DefinitionParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(*at_call))), WAIT_S)
        assert (target.range.start.line, target.range.start.character, target.range.end.character) == \
            (0, at_decl[1], at_decl[1] + len("double"))
        refs = await asyncio.wait_for(c.text_document_references_async(lsp.ReferenceParams(
            lsp.ReferenceContext(include_declaration=True), lsp.TextDocumentIdentifier(uri),
            lsp.Position(*at_decl))), WAIT_S)
        assert sorted((r.range.start.line, r.range.start.character) for r in refs) == [at_decl, at_call]
        edit = await asyncio.wait_for(c.text_document_rename_async(lsp.RenameParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(*at_call), "twice")), WAIT_S)
        assert sorted((e.range.start.line, e.range.start.character, e.range.end.character)
                      for e in edit.changes[uri]) == [(*at_decl, at_decl[1] + 6), (*at_call, at_call[1] + 6)]
        symbols = await asyncio.wait_for(c.text_document_document_symbol_async(lsp.DocumentSymbolParams(
            lsp.TextDocumentIdentifier(uri))), WAIT_S)
        assert {x.name: x.selection_range.start.character for x in symbols}["double"] == at_decl[1]

        broken = EMOJI.replace('print("🍜", double(2))', 'print("🍜", double(2), missing)')
        s.change(uri, 2, broken)
        [d] = await s.diagnostics(uri, 2)
        line = broken.split("\n")[5]
        start = _u16(line, line.index("missing"))
        assert (d.range.start.line, d.range.start.character, d.range.end.character) == (5, start, start + 7)

    _run(tmp_path, scenario)


def test_a_client_offering_utf32_gets_code_point_columns(tmp_path: Path) -> None:
    (tmp_path / "main.nd").write_text(EMOJI, encoding="utf-8")
    uri = (tmp_path / "main.nd").as_uri()
    lines = EMOJI.split("\n")
    decl, call = lines[0].index("double"), lines[5].index("double")

    async def scenario(s: Session) -> None:
        assert s.capabilities.position_encoding == lsp.PositionEncodingKind.Utf32
        s.open(uri, EMOJI)
        await s.diagnostics(uri, 1)
        target = await asyncio.wait_for(s.client.text_document_definition_async(lsp.DefinitionParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(5, call))), WAIT_S)
        assert (target.range.start.line, target.range.start.character) == (0, decl)
        tokens = await asyncio.wait_for(s.client.text_document_semantic_tokens_full_async(
            lsp.SemanticTokensParams(lsp.TextDocumentIdentifier(uri))), WAIT_S)
        assert list(tokens.data[:3]) == [0, 0, len("/* 🍜🍜 */")]  # the comment, its length in code points

    _run(tmp_path, scenario, lsp.ClientCapabilities(general=lsp.GeneralClientCapabilities(
        position_encodings=[lsp.PositionEncodingKind.Utf32, lsp.PositionEncodingKind.Utf16])))
