"""Signed modules: `noodle keygen`, `noodlec --sign`, `noodle run --require-signed --trust`,
`noodle.VM(trusted_keys=...)` refusing unsigned and wrongly signed modules and upgrades."""
from __future__ import annotations

from pathlib import Path

import pytest

import noodle
from helpers import TRACEBACK, noodle as noodle_cmd, noodlec, write

APP_V1 = 'module app version "1.0.0"\nfn answer() -> int { return 41 }\nfn main() { print(answer()) }\n'
APP_V2 = APP_V1.replace('"1.0.0"', '"1.1.0"').replace("41", "42")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """Two key pairs made by `noodle keygen`: ours and someone else's."""
    for name in ("ours", "theirs"):
        p = noodle_cmd(["keygen", name], tmp_path)
        assert p.returncode == 0, p.context()
    assert (tmp_path / "ours.key").stat().st_mode & 0o077 == 0
    return tmp_path / "ours.key", tmp_path / "ours.pub", tmp_path / "theirs.key", tmp_path / "theirs.pub"


def _compile(tmp_path: Path, source: str, out: str, key: Path | None) -> Path:
    write(tmp_path, "app.nd", source)
    args = ["app.nd", "-o", out] + (["--sign", str(key)] if key else [])
    p = noodlec(args, tmp_path)
    assert p.returncode == 0, p.context()
    return tmp_path / out


def test_require_signed_runs_only_what_a_trusted_key_signed(tmp_path: Path, keys) -> None:
    ours_key, ours_pub, theirs_key, _ = keys
    _compile(tmp_path, APP_V1, "signed.nbc", ours_key)
    _compile(tmp_path, APP_V1, "unsigned.nbc", None)
    _compile(tmp_path, APP_V1, "foreign.nbc", theirs_key)
    tampered = bytearray((tmp_path / "signed.nbc").read_bytes())
    tampered[100] ^= 1
    (tmp_path / "tampered.nbc").write_bytes(bytes(tampered))

    def run(name: str):
        return noodle_cmd(["run", "--require-signed", "--trust", str(ours_pub), name], tmp_path)

    ok = run("signed.nbc")
    assert ok.returncode == 0 and ok.stdout == "41\n", ok.context()
    for name, reason in (("unsigned.nbc", "not signed"), ("foreign.nbc", "does not trust"),
                         ("tampered.nbc", "does not match"), ("app.nd", "only signed .nbc")):
        p = run(name)
        assert p.returncode == 1 and p.stdout == "" and TRACEBACK not in p.stderr, p.context()
        assert reason in p.stderr and len(p.stderr.splitlines()) == 1, p.context()
    # without --require-signed a signed module runs like any other
    plain = noodle_cmd(["run", "signed.nbc"], tmp_path)
    assert plain.returncode == 0 and plain.stdout == "41\n", plain.context()


def test_a_vm_with_trusted_keys_refuses_unsigned_modules_and_upgrades(tmp_path: Path, keys) -> None:
    ours_key, ours_pub, theirs_key, _ = keys
    v1 = _compile(tmp_path, APP_V1, "v1.nbc", ours_key)
    v2_theirs = _compile(tmp_path, APP_V2, "v2_theirs.nbc", theirs_key)
    v2_unsigned = _compile(tmp_path, APP_V2, "v2_unsigned.nbc", None)
    v2 = _compile(tmp_path, APP_V2, "v2.nbc", ours_key)
    vm = noodle.VM(trusted_keys=[ours_pub], root=tmp_path)
    with pytest.raises(noodle.LoadError, match="not source"):
        vm.load(noodle.Source(APP_V1, name="app"))
    with pytest.raises(noodle.LoadError, match="not signed"):
        vm.load(v2_unsigned)
    app = vm.load(v1)
    assert app.answer() == 41
    for bad, reason in ((v2_theirs, "does not trust"), (v2_unsigned, "not signed")):
        with pytest.raises(noodle.UpgradeRejected, match=reason):
            vm.upgrade(bad)
        assert app.answer() == 41
    vm.upgrade(v2)
    assert app.answer() == 42
    # keys as raw bytes or hex work the same
    raw = bytes.fromhex(ours_pub.read_text())
    assert noodle.VM(trusted_keys=[raw]).load(v1).answer() == 41
    assert noodle.VM(trusted_keys=[raw.hex()]).load(v1).answer() == 41


def test_keygen_never_overwrites_a_key(tmp_path: Path, keys) -> None:
    before = (tmp_path / "ours.key").read_bytes()
    p = noodle_cmd(["keygen", "ours"], tmp_path)
    assert p.returncode == 1 and "exists already" in p.stderr, p.context()
    assert (tmp_path / "ours.key").read_bytes() == before


def test_an_older_signed_module_is_not_accepted_as_an_upgrade(tmp_path: Path, keys) -> None:
    """A correctly signed older release replayed as an upgrade (a rollback attack) is refused; the
    host may still go back on purpose (allow_downgrade, or vm.rollback)."""
    ours_key, ours_pub, _, _ = keys
    v1 = _compile(tmp_path, APP_V1, "v1.nbc", ours_key)
    v2 = _compile(tmp_path, APP_V2, "v2.nbc", ours_key)
    vm = noodle.VM(trusted_keys=[ours_pub], root=tmp_path)
    app = vm.load(v2)
    with pytest.raises(noodle.UpgradeRejected, match=r"version 1\.0\.0 is older than the running 1\.1\.0"):
        vm.upgrade(v1)
    assert app.answer() == 42 and dict(vm.modules())["app"] == "1.1.0"  # nothing changed
    vm.upgrade(v2)  # the same version again is no downgrade
    report = vm.upgrade(v1, allow_downgrade=True)
    assert (report.from_version, report.to_version) == ("1.1.0", "1.0.0") and app.answer() == 41
