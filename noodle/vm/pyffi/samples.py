"""Captured call samples: values encoded for the usage database, and read back for validation.

Only plain data is captured: int, float, bool, str, none, lists, tuples, dicts and ndarrays of
numeric or bool dtype, nested.  The encoding is MessagePack of a tagged tree (no pickle: reading a
sample back never runs code); an ndarray keeps its dtype, shape and bytes.  A value that is not
plain data, or whose encoding is larger than :data:`MAX_SAMPLE_BYTES`, is not captured
(:class:`NotCapturable`).
"""
from __future__ import annotations

from typing import Any

import msgspec

#: the largest encoded sample (arguments and result together) kept
MAX_SAMPLE_BYTES = 64 * 1024
#: at most this many samples per (name, signature)
MAX_SAMPLES = 8

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder()


class NotCapturable(ValueError):
    """A value the sampler does not keep (not plain data, or too large)."""


def _tree(value: Any, budget: list[int]) -> Any:
    t = type(value)
    if t is bool:
        return ["b", value]
    if t is int:
        return ["i", value] if -(2**63) <= value < 2**63 else ["I", str(value)]
    if t is float:
        return ["f", value]
    if t is str:
        budget[0] -= len(value)
        return ["s", value]
    if value is None:
        return ["n"]
    if budget[0] < 0:
        raise NotCapturable("sample too large")
    if t is list:
        return ["l", [_tree(x, budget) for x in value]]
    if t is tuple:
        return ["t", [_tree(x, budget) for x in value]]
    if t is dict:
        return ["d", [[_tree(k, budget), _tree(v, budget)] for k, v in value.items()]]
    if t.__name__ == "ndarray" and value.dtype.kind in "biuf":
        budget[0] -= value.nbytes
        if budget[0] < 0:
            raise NotCapturable("sample too large")
        import numpy as np

        return ["a", str(value.dtype), list(value.shape), np.ascontiguousarray(value).tobytes()]
    if t.__module__ == "numpy" and getattr(value, "ndim", None) == 0 and value.dtype.kind in "biuf":
        return ["x", str(value.dtype), value.tobytes()]
    raise NotCapturable(f"a {t.__qualname__} is not plain data")


def encode(value: Any) -> bytes:
    """The bytes of a value, or NotCapturable."""
    data = _ENCODER.encode(_tree(value, [MAX_SAMPLE_BYTES]))
    if len(data) > MAX_SAMPLE_BYTES:
        raise NotCapturable("sample too large")
    return data


def decode(data: bytes) -> Any:
    """The value of bytes written by :func:`encode`."""
    return _value(_DECODER.decode(data))


def _value(node: list[Any]) -> Any:
    tag = node[0]
    if tag in ("b", "i", "f", "s"):
        return node[1]
    if tag == "I":
        return int(node[1])
    if tag == "n":
        return None
    if tag == "l":
        return [_value(x) for x in node[1]]
    if tag == "t":
        return tuple(_value(x) for x in node[1])
    if tag == "d":
        return {_value(k): _value(v) for k, v in node[1]}
    import numpy as np

    if tag == "a":
        return np.frombuffer(node[3], dtype=np.dtype(node[1])).reshape(node[2]).copy()
    if tag == "x":
        return np.frombuffer(node[2], dtype=np.dtype(node[1]))[0]
    raise ValueError(f"unknown sample tag {tag!r}")
