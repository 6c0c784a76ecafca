"""The `.nbc` module file: layout, encoding and decoding.

Layout (all integers little-endian)::

    magic        8 bytes   b"\\x89NBC\\r\\n\\x1a\\n"  (PNG-style: catches text-mode mangling)
    format       u16       FORMAT_VERSION
    flags        u16       0 (reserved)
    length       u32       length of the payload
    digest       32 bytes  BLAKE2b-256 of the payload
    payload      msgpack   a :class:`ModuleFile`

The header checks (magic, version, length, digest) come first so a foreign,
truncated or corrupted file is refused with one clear reason; the payload is
then decoded with msgspec against the exact schema below and handed to the
verifier (:mod:`noodle.vm.verify`).  Nothing runs before both pass.
"""
from __future__ import annotations

import struct

import msgspec

from noodle.errors import LoadError
from noodle.format.hashing import digest, source_hash

MAGIC = b"\x89NBC\r\n\x1a\n"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sHHI32s")
HEADER_SIZE = _HEADER.size

Constant = int | float | str | bool | None


class FunctionCode(msgspec.Struct, forbid_unknown_fields=True):
    name: str  # "fib", "Point.norm", "__lambda_3", "__init__", "__test_0"
    display: str  # shown in stack traces
    kind: str  # fn | method | lambda | init | test
    nparams: int
    nlocals: int
    depth: int  # lambda nesting depth; 0 for functions of the module
    parent: int  # index of the enclosing function of a lambda, else -1
    code: list[int]  # WORDS_PER_INSTR ints per instruction
    lines: list[int]  # source line of each instruction
    cols: list[int]  # source column of each instruction
    local_names: list[str]
    signature: str  # type text, e.g. "fn(int) -> int"
    exported: bool = False


class StructCode(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    fields: list[str]
    field_types: list[str]
    exported: bool = True
    #: constant default of each field, where `has_default` says it has one (empty: no defaults)
    defaults: list[Constant] = []
    has_default: list[bool] = []


class GlobalCode(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    type: str
    mutable: bool
    exported: bool = True


class ImportCode(msgspec.Struct, forbid_unknown_fields=True):
    module: str  # dotted module name
    version: str = ""  # version seen at compile time
    hash: str = ""  # source hash of the imported module at compile time (cache validity)


class TestCode(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    func: int


class ModuleFile(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    version: str
    source_file: str
    source_hash: str
    compiler: str
    consts: list[Constant]
    names: list[str]
    functions: list[FunctionCode]
    structs: list[StructCode]
    globals: list[GlobalCode]
    imports: list[ImportCode]
    tests: list[TestCode]
    init: int  # function index of the module's top-level code
    entry: int  # function index of `main`, or -1
    ir: bytes = b""  # the typed IR (noodle.ir.nodes.Module), for later backends


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ModuleFile)


def compiler_id() -> str:
    """What this build writes into `ModuleFile.compiler`."""
    from noodle.version import __version__
    from noodle.format.hashing import toolchain_fingerprint

    return f"noodle {__version__} {toolchain_fingerprint()}"


def encode(module: ModuleFile) -> bytes:
    """The complete bytes of a `.nbc` file."""
    payload = _encoder.encode(module)
    return _HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(payload), digest(payload)) + payload


def decode(data: bytes, path: str | None = None) -> ModuleFile:
    """Check the header and decode the payload; raises :class:`LoadError`. Does not verify code."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise LoadError("not a Noodle module (bad magic number)", path)
    if len(data) < HEADER_SIZE:
        raise LoadError("truncated module file (incomplete header)", path)
    _, version, flags, length, expected = _HEADER.unpack_from(data)
    if version != FORMAT_VERSION:
        raise LoadError(f"module format version {version} is not supported (this VM reads version {FORMAT_VERSION})", path)
    if flags != 0:
        raise LoadError(f"unknown module flags {flags:#x}", path)
    payload = data[HEADER_SIZE:]
    if len(payload) < length:
        raise LoadError(f"truncated module file ({len(payload)} of {length} payload bytes)", path)
    if len(payload) > length:
        raise LoadError(f"trailing garbage after the module payload ({len(payload) - length} bytes)", path)
    if digest(payload) != expected:
        raise LoadError("corrupted module file (checksum mismatch)", path)
    try:
        return _decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise LoadError(f"malformed module payload: {e}", path) from None


__all__ = ["ModuleFile", "LoadError", "encode", "decode", "source_hash", "MAGIC", "FORMAT_VERSION"]
