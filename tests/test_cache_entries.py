"""The cache's files and its validity rules, in-process (test_cache.py runs the real `noodle run`).

Each rule of `noodle.format.cache` (where files live, atomic writes, kept warnings) and of
`noodle.vm.cache` (an entry is valid only for its own source, its own compiler and unchanged
imports, transitively) is checked directly, so that mutation testing, which sees only code run
in the test's own process, can tell whether a rule is guarded.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from noodle.build.driver import Project
from noodle.format import cache as fc
from noodle.errors import LoadError
from noodle.format import module_file as mf
from noodle.format.opcodes import WORDS_PER_INSTR
from noodle.ir.nodes import decode_module, encode_module
from noodle.format.hashing import source_hash
from noodle.vm import cache as vc
from noodle.vm.image import build_image
from noodle.vm.verify import verify


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build(root: Path, main: str = "top") -> None:
    """Compile `main` and what it imports with the cache on (as `noodle run` does)."""
    Project(root).compile_file(root / f"{main}.nd")


@pytest.mark.parametrize("name, expected", [("my-app", "my_app"), ("app", "app"), ("2048", "_2048"),
                                            ("", "_"), ("é.x", "__x"), ("a_b9", "a_b9")])
def test_a_file_name_becomes_a_module_identifier(name: str, expected: str) -> None:
    assert fc.identifier(name) == expected


def test_the_user_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOODLE_CACHE_DIR", str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fc.user_cache_root() == str(tmp_path / "own")
    monkeypatch.delenv("NOODLE_CACHE_DIR")
    assert fc.user_cache_root() == os.path.join(str(tmp_path / "xdg"), "noodle")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fc.user_cache_root() == os.path.join(str(tmp_path / "home"), ".cache", "noodle")


def test_where_sources_and_cache_files_live(tmp_path: Path) -> None:
    assert fc.module_path(tmp_path, "pkg.sub.mod") == os.path.join(str(tmp_path), "pkg", "sub", "mod.nd")
    assert fc.cache_path(tmp_path, "m") == os.path.join(str(tmp_path), "__noodlecache__", "m.nbc")
    assert fc.cache_path(tmp_path, "m", ".nbi") == os.path.join(str(tmp_path), "__noodlecache__", "m.nbi")


def test_a_source_is_read_as_utf8_or_not_at_all(tmp_path: Path) -> None:
    write(tmp_path / "pkg" / "ok.nd", "print(\"é\")\n")
    (tmp_path / "bad.nd").write_bytes(b"print(1)\xff\n")
    assert fc.read_source(tmp_path, "pkg.ok") == "print(\"é\")\n"
    assert fc.read_source(tmp_path, "bad") is None
    assert fc.read_source(tmp_path, "missing") is None


def test_a_cache_file_is_written_whole_and_read_back(tmp_path: Path) -> None:
    path = str(tmp_path / "deep" / "er" / "x.bin")
    fc.write_file(path, b"\x00payload")
    assert fc.read_file(path) == b"\x00payload"
    assert os.listdir(tmp_path / "deep" / "er") == ["x.bin"]  # the temporary file was renamed into place
    fc.write_file(path, b"second")
    assert fc.read_file(path) == b"second"
    assert fc.read_file(str(tmp_path / "none.bin")) is None


def test_a_write_where_a_folder_cannot_be_made_is_given_up_quietly(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    fc.write_file(str(tmp_path / "file" / "sub" / "x.bin"), b"data")  # "file" is no folder: OSError, ignored
    assert fc.read_file(str(tmp_path / "file" / "sub" / "x.bin")) is None


def test_warnings_are_kept_beside_the_entry_and_removed_when_none(tmp_path: Path) -> None:
    items = [{"code": "W0105", "rendered": "warning[W0105]: ..."}, {"code": "W0101", "rendered": "é"}]
    fc.write_warnings(tmp_path, "m", items)
    assert fc.read_warnings(tmp_path, "m") == items
    assert Path(fc.cache_path(tmp_path, "m", ".warn")).is_file()
    fc.write_warnings(tmp_path, "m", [])
    assert not Path(fc.cache_path(tmp_path, "m", ".warn")).exists()
    assert fc.read_warnings(tmp_path, "m") is None
    fc.write_warnings(tmp_path, "m", [])  # nothing to remove: no error either


@pytest.mark.parametrize("content", [b"{not json", b'{"code": "W0105"}', b'[{"code": "W0105"}, "text"]', b"[1]"])
def test_damaged_warnings_are_not_replayed(tmp_path: Path, content: bytes) -> None:
    fc.write_file(fc.cache_path(tmp_path, "m", ".warn"), content)
    assert fc.read_warnings(tmp_path, "m") is None


def test_an_empty_warning_list_on_disk_is_no_warnings(tmp_path: Path) -> None:
    fc.write_file(fc.cache_path(tmp_path, "m", ".warn"), b"[]")
    assert fc.read_warnings(tmp_path, "m") == []


def test_imports_are_valid_only_while_each_source_and_entry_is(tmp_path: Path) -> None:
    write(tmp_path / "a.nd", "A\n")
    write(tmp_path / "b.nd", "B\n")
    both = [("a", source_hash("A\n")), ("b", source_hash("B\n"))]
    seen: list[tuple[str, str]] = []
    assert fc.imports_valid(tmp_path, both, lambda dep, src: seen.append((dep, src)) is None)
    assert seen == [("a", "A\n"), ("b", "B\n")]  # each import's entry was asked, with its source
    assert fc.imports_valid(tmp_path, [], lambda dep, src: False)
    assert not fc.imports_valid(tmp_path, [("a", source_hash("changed"))], lambda dep, src: True)
    assert not fc.imports_valid(tmp_path, [("gone", source_hash(""))], lambda dep, src: True)
    assert not fc.imports_valid(tmp_path, both, lambda dep, src: dep != "b")  # the second entry is stale


TOP = "import mid\nprint(mid.get() + 1)\n"
MID = "import k\nfn get() -> int { return k.val() }\n"
K = "fn val() -> int { return 1 }\n"


def project(tmp_path: Path) -> Path:
    write(tmp_path / "k.nd", K)
    write(tmp_path / "mid.nd", MID)
    write(tmp_path / "top.nd", TOP)
    build(tmp_path)
    return tmp_path


def test_a_cached_module_is_read_while_its_source_and_imports_are_unchanged(tmp_path: Path) -> None:
    root = project(tmp_path)
    cached = vc.read_cached(root, "top", TOP)
    assert cached is not None and cached.name == "top" and cached.source_hash == source_hash(TOP)
    assert [i.module for i in cached.imports] == ["mid"]
    assert vc.read_cached(root, "k", K).name == "k"
    assert vc.read_cached(root, "top", TOP + "\n") is None  # another source
    assert vc.read_cached(root, "nothing", "") is None  # no entry


def test_a_change_two_imports_away_invalidates_the_entry(tmp_path: Path) -> None:
    root = project(tmp_path)
    write(root / "k.nd", "fn val() -> int { return 2 }\n")
    assert vc.read_cached(root, "mid", MID) is None
    assert vc.read_cached(root, "top", TOP) is None
    write(root / "k.nd", K)  # back as it was: valid again
    assert vc.read_cached(root, "top", TOP) is not None
    os.remove(root / "k.nd")
    assert vc.read_cached(root, "top", TOP) is None


def test_an_import_whose_entry_is_damaged_invalidates_its_importers(tmp_path: Path) -> None:
    root = project(tmp_path)
    path = Path(fc.cache_path(root, "k"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert vc.read_cached(root, "k", K) is None
    assert vc.read_cached(root, "top", TOP) is None


def test_an_entry_of_another_compiler_is_not_used(tmp_path: Path) -> None:
    root = project(tmp_path)
    module = vc.read_cached(root, "k", K)
    module.compiler = "another-compiler"
    fc.write_file(fc.cache_path(root, "k"), mf.encode(module))
    assert vc.read_cached(root, "k", K) is None


def test_an_entry_that_does_not_verify_is_not_used(tmp_path: Path) -> None:
    root = project(tmp_path)
    module = vc.read_cached(root, "k", K)
    module.functions[0].code = [0xFE] * WORDS_PER_INSTR + module.functions[0].code  # no such opcode
    with pytest.raises(LoadError):
        verify(module)
    fc.write_file(fc.cache_path(root, "k"), mf.encode(module))
    assert vc.read_cached(root, "k", K) is None


def test_a_module_importing_itself_through_a_cycle_is_never_valid(tmp_path: Path) -> None:
    root = project(tmp_path)
    memo: dict = {}
    assert vc.read_cached(root, "top", TOP, memo) is not None
    assert memo["top"] is not None and memo["mid"] is not None and memo["k"] is not None
    # an entry being read is None in the memo until it is found valid: a cycle back to it fails
    memo = {"k": None}
    assert vc.read_cached(root, "top", TOP, memo) is None
    assert memo["top"] is None and memo["mid"] is None


def images(root: Path) -> None:
    for name, source in (("k", K), ("mid", MID), ("top", TOP)):
        fc.write_image(root, name, build_image(vc.read_cached(root, name, source)))


def test_a_cached_image_is_read_while_its_source_and_imports_are_unchanged(tmp_path: Path) -> None:
    root = project(tmp_path)
    images(root)
    image = vc.read_image(root, "top", TOP)
    assert image is not None and image.name == "top" and image.imports == ["mid"]
    assert vc.read_image(root, "top", TOP + " ") is None
    assert vc.read_image(root, "none", "") is None
    memo: dict = {}
    assert vc.read_image(root, "top", TOP, memo) is not None and memo["k"] is not None
    assert vc.read_image(root, "top", TOP, {"mid": None}) is None  # a cycle back to mid
    write(root / "k.nd", "fn val() -> int { return 3 }\n")
    assert vc.read_image(root, "top", TOP) is None
    assert vc.read_image(root, "mid", MID) is None


def test_a_damaged_image_is_not_read(tmp_path: Path) -> None:
    root = project(tmp_path)
    images(root)
    path = Path(fc.cache_path(root, "k", ".nbi"))
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    assert vc.read_image(root, "k", K) is None
    assert vc.read_image(root, "top", TOP) is None


def test_an_image_without_a_signature_is_not_written(tmp_path: Path) -> None:
    class Unsigned:
        def dumps(self) -> None:
            return None

    fc.write_image(tmp_path, "m", Unsigned())
    assert not Path(fc.cache_path(tmp_path, "m", ".nbi")).exists()


def test_warnings_file_is_json_list(tmp_path: Path) -> None:
    fc.write_warnings(tmp_path, "m", [{"rendered": "x"}])
    assert json.loads(Path(fc.cache_path(tmp_path, "m", ".warn")).read_bytes()) == [{"rendered": "x"}]


def test_entries_that_import_each_other_are_never_valid(tmp_path: Path) -> None:
    """The compiler refuses an import cycle, but cache files can be written by anyone: entries
    that claim to import each other must not vouch for each other."""
    root = project(tmp_path)
    images(root)
    k = vc.read_cached(root, "k", K)
    k.imports.append(mf.ImportCode(module="top", hash=source_hash(TOP)))  # k -> top -> mid -> k
    k_ir = decode_module(k.ir)
    k_ir.imports.append("top")  # the typed IR names the same imports (or the entry is refused for that)
    k.ir = encode_module(k_ir)
    verify(k)
    fc.write_file(fc.cache_path(root, "k"), mf.encode(k))
    assert vc.read_cached(root, "top", TOP) is None
    assert vc.read_cached(root, "k", K) is None
    image = vc.read_image(root, "k", K)
    image.imports, image.import_hashes = ["top"], [source_hash(TOP)]
    fc.write_image(root, "k", image)
    assert vc.read_image(root, "top", TOP) is None
    assert vc.read_image(root, "k", K) is None


# -- the hashes the cache keys on (noodle.format.hashing) -------------------------------------------

def test_the_hashes_have_their_recorded_sizes_and_read_text_as_utf8() -> None:
    from hashlib import blake2b

    from noodle.format.hashing import digest

    assert digest(b"payload") == blake2b(b"payload", digest_size=32).digest()
    assert source_hash("é") == blake2b("é".encode("utf-8"), digest_size=16).hexdigest()
    assert len(source_hash("")) == 32 and source_hash("a") != source_hash("b")


def fingerprint_of(tree: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The toolchain fingerprint as if `tree` were the package (computed afresh)."""
    from noodle.format import hashing

    monkeypatch.setattr(hashing, "__file__", str(tree / "format" / "hashing.py"))
    monkeypatch.setattr(hashing, "_fingerprint", None)
    return hashing.toolchain_fingerprint()


def test_the_toolchain_fingerprint_follows_the_package_sources_only(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from noodle.format import hashing

    monkeypatch.setattr(hashing, "_backend_libraries", lambda: ["llvmlite:absent"])
    tree = tmp_path / "pkg"
    files = {name: tree / name for name in ("format/hashing.py", "a.py", "sub/deep/g.lark", ".hidden/c.py",
                                            "__pycache__/d.py", "notes.txt")}
    for path in files.values():
        write(path, "x")
    first = fingerprint_of(tree, monkeypatch)
    assert len(first) == 16 and int(first, 16) >= 0
    assert hashing.toolchain_fingerprint() == first  # computed once per process
    assert fingerprint_of(tree, monkeypatch) == first  # and the same when computed again
    for name, counts in [("a.py", True), ("sub/deep/g.lark", True), (".hidden/c.py", False),
                         ("__pycache__/d.py", False), ("notes.txt", False)]:
        before = fingerprint_of(tree, monkeypatch)
        st = files[name].stat()
        os.utime(files[name], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert (fingerprint_of(tree, monkeypatch) != before) is counts, name
        before = fingerprint_of(tree, monkeypatch)
        files[name].write_text("xy")
        os.utime(files[name], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # the size alone changed
        assert (fingerprint_of(tree, monkeypatch) != before) is counts, name
    write(tree / "new.py", "")
    assert fingerprint_of(tree, monkeypatch) != before
    monkeypatch.setattr(hashing, "_backend_libraries", lambda: ["llvmlite:123"])
    with_llvmlite = fingerprint_of(tree, monkeypatch)
    monkeypatch.setattr(hashing, "_backend_libraries", lambda: ["llvmlite:absent"])
    assert fingerprint_of(tree, monkeypatch) != with_llvmlite


def test_a_backend_library_counts_only_as_a_package_found_on_the_path(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from noodle.format import hashing

    (tmp_path / "llvmlite").mkdir()  # a folder without __init__.py is no package
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert hashing._backend_libraries() == ["llvmlite:absent"]
    (tmp_path / "llvmlite" / "__init__.py").write_text("")
    mtime = (tmp_path / "llvmlite" / "__init__.py").stat().st_mtime_ns
    assert hashing._backend_libraries() == [f"llvmlite:{mtime}"]
    monkeypatch.setattr(sys, "path", [""])  # "" on sys.path is the current folder
    monkeypatch.chdir(tmp_path)
    assert hashing._backend_libraries() == [f"llvmlite:{mtime}"]
    monkeypatch.setattr(sys, "path", [str(tmp_path / "none"), str(tmp_path)])  # the first that has it
    assert hashing._backend_libraries() == [f"llvmlite:{mtime}"]


def test_a_module_is_found_in_the_search_roots_and_a_broken_manifest_falls_back(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOODLE_PATH", raising=False)
    app, shared = tmp_path / "app", tmp_path / "shared"
    write(shared / "lib" / "util.nd", "fn one() -> int { return 1 }\n")
    write(app / "noodle.toml", '[dependencies]\nroots = ["../shared"]\n')
    assert fc.module_path(app, "lib.util") == str(shared / "lib" / "util.nd")
    assert fc.read_source(app, "lib.util") == "fn one() -> int { return 1 }\n"
    write(app / "lib" / "util.nd", "fn one() -> int { return 2 }\n")  # the program's own module comes first
    assert fc.module_path(app, "lib.util") == str(app / "lib" / "util.nd")
    broken = tmp_path / "broken"
    write(broken / "noodle.toml", "[dependencies\n")
    assert fc.module_path(broken, "lib.util") == os.path.join(str(broken), "lib", "util.nd")


def test_a_file_whose_path_is_not_utf8_compiles_runs_and_is_cached(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Python reads a file name's bytes that are not UTF-8 as lone surrogates, which no module file
    # can store: the driver writes them `\xff`; it crashed in the IR's encoder before
    try:
        os.mkdir(os.fsencode(tmp_path) + b"/d\xff")
    except (OSError, UnicodeError):  # pragma: no cover - a file system that refuses such names
        pytest.skip("the file system refuses names that are not UTF-8")
    path = tmp_path / os.fsdecode(b"d\xff") / os.fsdecode(b"\xfe.nd")
    path.write_text("fn main() {\n print(1)\n}\n")
    monkeypatch.chdir(tmp_path)
    compiled = Project(tmp_path).compile_file(path)
    assert compiled.module.source_file == "d\\xff/\\xfe.nd"
    assert compiled.ir is not None and compiled.ir.file == "d\\xff/\\xfe.nd"
    verify(compiled.module)
    build_image(compiled.module)
    again = Project(tmp_path).compile_file(path)
    assert again.from_cache and again.module.source_file == "d\\xff/\\xfe.nd"


def test_a_folder_that_cannot_be_listed_is_skipped_and_the_walk_goes_on(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # the folders are walked last-pushed first: `b` before `a`; `b` failing must not end the walk
    from noodle.format import hashing

    monkeypatch.setattr(hashing, "_backend_libraries", lambda: ["llvmlite:absent"])
    tree = tmp_path / "pkg"
    for name in ("format/hashing.py", "a/x.py", "b/y.py"):
        write(tree / name, "x")
    real_scandir = os.scandir

    def scandir(folder: str):  # type: ignore[no-untyped-def]
        if os.path.basename(folder) == "b":
            raise PermissionError(folder)
        return real_scandir(folder)

    monkeypatch.setattr(os, "scandir", scandir)
    before = fingerprint_of(tree, monkeypatch)
    write(tree / "a" / "x.py", "longer")
    assert fingerprint_of(tree, monkeypatch) != before
    before = fingerprint_of(tree, monkeypatch)
    write(tree / "b" / "y.py", "longer")  # not listed: not counted
    assert fingerprint_of(tree, monkeypatch) == before
