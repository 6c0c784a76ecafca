"""What travels between the program and its workers: typed msgspec messages.

Code travels as verified `.nbc` bytes named by their content hash (:class:`ModuleBundle`); a task
names the module by hash and version and the function by name (:class:`TaskMessage`), and carries
its elements encoded by :func:`encode_values`; a result (:class:`ResultMessage`) carries the values
or the Noodle error of the element that failed, with the worker's Noodle stack.

Noodle values cross as MessagePack: int, float, bool, str, none and lists as themselves; tuples,
maps, structs and Arrays as extension types (a tuple must come back a tuple, a struct as the
receiving machine's own class of the same module and name, an Array as a NumPy array of the same
dtype and shape).  An Array of :data:`SHARE_MIN_BYTES` or more is not embedded: the encoder hands
it to a `share` callback (the target sends it once: a shared-memory file for the pool, a Dask
scatter for the cluster) and writes its index; the task lists the shared arrays
(:class:`SharedArray`) and the decoder takes them from a `shared` list.
"""
from __future__ import annotations

from typing import Any, Callable

import msgspec

from noodle.format.hashing import digest
from noodle.runtime.values import StructBase

_TUPLE, _MAP, _STRUCT, _ARRAY, _SHARED = 1, 2, 3, 4, 5

#: Arrays this large travel once per map (shared), not inside every task that holds them
SHARE_MIN_BYTES = 64 * 1024


class ModuleBundle(msgspec.Struct, frozen=True):
    """A program's code: every module it needs, as `.nbc` bytes, keyed by name with their hashes."""

    entry: str
    #: module name -> .nbc bytes
    modules: dict[str, bytes]
    #: module name -> hex content hash of its bytes (checked on arrival)
    hashes: dict[str, str]
    #: the capabilities the program was granted (field names of noodle.vm.limits.Capabilities)
    capabilities: list[str]

    @property
    def key(self) -> str:
        """One hash naming the whole bundle (what workers cache machines by)."""
        text = "|".join(f"{n}={self.hashes[n]}" for n in sorted(self.hashes)) + "|" + ",".join(self.capabilities)
        return digest(text.encode()).hex()


def bundle_of(entry: str, modules: dict[str, bytes], capabilities: list[str]) -> ModuleBundle:
    return ModuleBundle(entry, modules, {n: content_hash(b) for n, b in modules.items()}, sorted(capabilities))


def content_hash(data: bytes) -> str:
    return digest(data).hex()


class SharedArray(msgspec.Struct, frozen=True):
    """An Array sent once for a whole map rather than inside each task (see `encode_values`)."""

    dtype: str
    shape: list[int]
    #: the pool's: a file in shared memory holding the array's bytes; "" for the cluster, where the
    #: array reaches the task as a scattered Dask argument
    path: str = ""


class TaskMessage(msgspec.Struct, frozen=True):
    """Run `module.function` on a chunk of elements (indexes `start`...)."""

    bundle_key: str
    module: str
    #: the version (content hash) of `module` the program runs; a worker with other code refuses
    module_hash: str
    function: str
    start: int
    #: encode_values() of the chunk's elements
    payload: bytes
    #: "map" (f on each element) or "reduce" (f folded over the chunk; f is associative)
    op: str = "map"
    #: the program's globals when the map began: encode_values() of [[module, [[slot, value], ...]], ...]
    #: (a worker never runs a module's top-level code; it takes the program's values instead)
    state: bytes = b""
    #: the large Arrays the payload and state refer to by index, sent once per map
    shared: list[SharedArray] = []


class TaskFailure(msgspec.Struct, frozen=True):
    """The Noodle error raised by one element: kind, message, the worker's Noodle stack."""

    index: int
    kind: str
    message: str
    #: (function, file, line, column) per frame, outermost first
    stack: list[tuple[str, str, int, int]]


class ResultMessage(msgspec.Struct, frozen=True):
    start: int
    #: encode_values() of the results (empty when `failure` is set)
    payload: bytes
    failure: TaskFailure | None = None


class VersionMismatch(Exception):
    """A task named code this worker does not hold in that version: refused, never run."""


# -------------------------------------------------------------------- values

#: `share(array) -> index`: sends a large Array once and names it by its index in the task's list
Share = Callable[[Any], int]


class StructMismatch(Exception):
    """A struct arrived whose module and name this machine knows with other fields: refused."""


def encode_values(values: Any, share: Share | None = None) -> bytes:
    """MessagePack of Noodle values; Arrays of SHARE_MIN_BYTES or more go through `share` if given."""
    return msgspec.msgpack.encode(_to_wire(values, share))


def decode_values(data: bytes, struct_class: Callable[[str, str], type],
                  shared: Callable[[int], Any] | None = None) -> Any:
    """Values from `encode_values`; `struct_class(module, name)` gives this machine's class (a KeyError
    or a wrong number of fields is a StructMismatch), `shared(index)` a shared Array."""

    def ext_hook(code: int, raw: memoryview) -> Any:
        inner = msgspec.msgpack.decode(raw, ext_hook=ext_hook)
        if code == _TUPLE:
            return tuple(inner)
        if code == _MAP:
            return {k: v for k, v in inner}
        if code == _STRUCT:
            module, name, *fields = inner
            try:
                cls = struct_class(module, name)
            except KeyError:
                raise StructMismatch(f"a struct {module}.{name} arrived, which this machine does not have") from None
            if len(fields) != len(cls._nd_attrs):
                raise StructMismatch(f"a struct {module}.{name} arrived with {len(fields)} fields; this machine's "
                                     f"has {len(cls._nd_attrs)} (another version of {module!r})")
            return cls(*fields)
        if code == _ARRAY:
            import numpy as np

            dtype, shape, buf = inner
            return np.frombuffer(buf, dtype=dtype).reshape(shape).copy()
        if code == _SHARED:
            if shared is None:
                raise ValueError("a shared Array arrived without the map's shared arrays")
            return shared(inner)
        raise ValueError(f"unknown value tag {code}")

    return msgspec.msgpack.decode(data, ext_hook=ext_hook)


def _ext(code: int, value: Any) -> msgspec.msgpack.Ext:
    return msgspec.msgpack.Ext(code, msgspec.msgpack.encode(value))


def _to_wire(v: Any, share: Share | None) -> Any:
    t = type(v)
    if t in (int, float, bool, str) or v is None:
        return v
    if t is list:
        return [_to_wire(x, share) for x in v]
    if t is tuple:
        return _ext(_TUPLE, [_to_wire(x, share) for x in v])
    if t is dict:
        return _ext(_MAP, [[_to_wire(k, share), _to_wire(x, share)] for k, x in v.items()])
    if isinstance(v, StructBase):
        return _ext(_STRUCT, [getattr(t, "_nd_module", ""), t._nd_name,
                              *(_to_wire(getattr(v, a), share) for a in t._nd_attrs)])
    if t.__name__ == "ndarray":
        if share is not None and v.nbytes >= SHARE_MIN_BYTES:
            return _ext(_SHARED, share(v))
        import numpy as np

        a = np.ascontiguousarray(v)
        return _ext(_ARRAY, [a.dtype.str, list(a.shape), a.tobytes()])
    raise TypeError(f"a {t.__name__} value cannot be sent to another process")
