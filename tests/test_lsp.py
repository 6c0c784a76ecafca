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

    async def start(self) -> None:
        await self.client.start_io(str(Path(sys.executable).parent / "noodle"), "lsp")
        result = await asyncio.wait_for(self.client.initialize_async(lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(), root_uri=self.root.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(self.root.as_uri(), "ws")])), WAIT_S)
        self.capabilities = result.capabilities
        self.client.initialized(lsp.InitializedParams())

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


def _run(root: Path, scenario) -> None:  # noqa: ANN001 - an async function of the session
    async def main() -> None:
        session = Session(root)
        await session.start()
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
    broken = [MAIN[:n] for n in range(0, len(MAIN), 7)] + ["fn main( {", "\u0000\"", "struct {{{{", "import nowhere\n"]

    async def scenario(s: Session) -> None:
        s.open(uri, MAIN)
        await s.diagnostics(uri, 1)
        version = 1
        for text in broken:
            version += 1
            s.change(uri, version, text)
            await s.hover(uri, 0, 3)  # requests on a broken text still answer
        errors = await s.diagnostics(uri, version)
        assert errors and errors[0].code == "E0400"  # `import nowhere`
        version += 1
        s.change(uri, version, MAIN)
        assert await s.diagnostics(uri, version) == []

    _run(root, scenario)


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
