"""Signed module files: Ed25519 signatures over a `.nbc`, and the keys that make and check them.

A signed file is an ordinary `.nbc` whose header has flag bit 0 (`SIGNED`) set, followed by a
trailer of 96 bytes: the signer's public key (32) and the Ed25519 signature (64) of everything
before the trailer (header and payload, so the flag itself is covered).  A VM that trusts keys
(`noodle.VM(trusted_keys=...)`, `noodle run --require-signed --trust KEY.pub`) refuses a module
or an upgrade that is unsigned, signed by a key it does not trust, or changed after signing.

Keys: `noodle keygen NAME` writes `NAME.key` (the 32-byte private seed, hex, mode 0600) and
`NAME.pub` (the public key, hex).  A trusted key is given as the 32 raw bytes, their hex, or the
path of a `.pub` file.  The signatures are made and checked with the `cryptography` library.
"""
from __future__ import annotations

import os
import struct

from noodle.errors import LoadError
from noodle.format.module_file import HEADER_SIZE, MAGIC

#: header flag of a signed module file
SIGNED = 1
TRAILER = 32 + 64
_FLAGS = struct.Struct("<H")
_FLAGS_AT = 10  # after the magic (8) and the format version (u16)
_LENGTH = struct.Struct("<I")  # the payload's length, after the flags


class KeyError_(ValueError):
    """A key file or key text that is not an Ed25519 key."""


def _ed25519():  # imported on use: only signing and checking need it
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519


def generate(path_stem: str) -> tuple[str, str]:
    """Write a new key pair (`STEM.key`, `STEM.pub`); return their paths.  Refuses to overwrite."""
    from cryptography.hazmat.primitives import serialization

    private = _ed25519().Ed25519PrivateKey.generate()
    seed = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_path, pub_path = f"{path_stem}.key", f"{path_stem}.pub"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(seed.hex() + "\n")
    with open(pub_path, "x") as f:
        f.write(public.hex() + "\n")
    return key_path, pub_path


def _hex32(text: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raise KeyError_(f"{what} is not a hex Ed25519 key") from None
    if len(raw) != 32:
        raise KeyError_(f"{what} is not an Ed25519 key ({len(raw)} bytes, not 32)")
    return raw


def read_private(path: str):  # -> Ed25519PrivateKey
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise KeyError_(f"cannot read key file {path}: {e.strerror}") from None
    return _ed25519().Ed25519PrivateKey.from_private_bytes(_hex32(text, f"key file {path}"))


def public_key(key: "bytes | str | os.PathLike[str]") -> bytes:
    """A trusted key as its 32 raw bytes: given raw, as hex, or as the path of a `.pub` file."""
    if isinstance(key, (bytes, bytearray)):
        if len(key) != 32:
            raise KeyError_(f"a public key is 32 bytes, not {len(key)}")
        return bytes(key)
    text = os.fspath(key)
    if len(text.strip()) == 64 and all(c in "0123456789abcdefABCDEF" for c in text.strip()):
        return _hex32(text, "the key")
    try:
        with open(text) as f:
            return _hex32(f.read(), f"key file {text}")
    except OSError as e:
        raise KeyError_(f"cannot read public key {text}: {e.strerror}") from None


def sign(data: bytes, private) -> bytes:  # noqa: ANN001 - an Ed25519PrivateKey
    """The module file `data` (unsigned) signed with `private`."""
    from cryptography.hazmat.primitives import serialization

    (flags,) = _FLAGS.unpack_from(data, _FLAGS_AT)
    if flags & SIGNED:
        data = unsigned(data)
        flags &= ~SIGNED
    body = data[:_FLAGS_AT] + _FLAGS.pack(flags | SIGNED) + data[_FLAGS_AT + 2:]
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return body + public + private.sign(body)


def is_signed(data: bytes) -> bool:
    """Does `data` claim to be a signed module file (the magic, and the SIGNED flag in the header)?"""
    return len(data) >= HEADER_SIZE and data[:len(MAGIC)] == MAGIC \
        and bool(_FLAGS.unpack_from(data, _FLAGS_AT)[0] & SIGNED)


def unsigned(data: bytes) -> bytes:
    """The module file without its signature (flag cleared, trailer removed), for the decoder;
    anything that does not claim to be signed is returned as it is (the decoder judges it)."""
    if not is_signed(data):
        return data
    (flags,) = _FLAGS.unpack_from(data, _FLAGS_AT)
    (length,) = _LENGTH.unpack_from(data, _FLAGS_AT + 2)
    if len(data) != HEADER_SIZE + length + TRAILER:
        raise LoadError("signed module file whose signature trailer is missing or damaged "
                        f"({len(data) - HEADER_SIZE - length} bytes after the payload, not {TRAILER})")
    body = data[:-TRAILER]
    return body[:_FLAGS_AT] + _FLAGS.pack(flags & ~SIGNED) + body[_FLAGS_AT + 2:]


def check(data: bytes, trusted: "list[bytes]", path: str | None = None) -> None:
    """Raise LoadError unless `data` is signed by one of the `trusted` public keys and unchanged since."""
    from cryptography.exceptions import InvalidSignature

    if not is_signed(data):
        raise LoadError("the module is not signed, and this VM runs only modules signed by a key it trusts", path)
    unsigned(data)  # the trailer where the header says it is
    body, public, signature = data[:-TRAILER], data[-TRAILER:-64], data[-64:]
    if public not in trusted:
        raise LoadError(f"the module is signed by key {public.hex()[:16]}..., which this VM does not trust", path)
    try:
        _ed25519().Ed25519PublicKey.from_public_bytes(public).verify(signature, body)
    except InvalidSignature:
        raise LoadError("the module's signature does not match its contents (changed after signing)", path) \
            from None
