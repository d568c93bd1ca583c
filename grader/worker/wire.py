"""The judge <-> worker wire format: a JSON header plus named tensors, never pickle.

A frame is two little-endian uint32 lengths, the UTF-8 JSON header, then a safetensors
blob. safetensors is a JSON index followed by raw little-endian bytes: loading it runs no
code, and what comes out is a plain `torch.Tensor` whatever the sender put in, so a tensor
subclass or an object with a lying `__eq__` cannot cross the boundary.

Every frame is bounded before it is parsed (header and tensor block sizes, the safetensors
index's size), and every tensor after: a plain tensor of an allowed dtype, at most MAX_DIMS
dims and MAX_ELEMENTS elements (counting an empty dim as 1, so that an empty tensor cannot
claim sizes no judge could allocate for). A worker's reply is untrusted data: the judge also
checks its JSON header against `REPLY` (grader/protocol.py) with `reply_problem` before
anything reads it, so a judge only ever meets the types it expects.

torch (and safetensors' torch support) is imported when a frame first holds tensors, not
with this module: a judge starts its first worker, and reads its greeting, while it imports
torch itself (grader/worker/warm.py).
"""

from __future__ import annotations

import json
import math
import struct
from typing import TYPE_CHECKING, BinaryIO

from grader.errors import WireError
from grader.protocol import ANY, REPLY, STATUSES, Values

if TYPE_CHECKING:
    import torch

MAX_HEADER_BYTES = 1 << 20  # 1 MiB of JSON
MAX_TENSOR_BYTES = 256 << 20  # 256 MiB of tensors (GPT-2-sized weights are ~9 MiB)
# The dtypes a tensor may have, by their names in torch (`torch.float32`...).
ALLOWED_DTYPES = frozenset({"float32", "float64", "float16", "bfloat16", "bool", "int64", "int32"})

MAX_TENSORS = 512  # tensors in one frame
MAX_DIMS = 8
MAX_ELEMENTS = MAX_TENSOR_BYTES  # product of the sizes, an empty dim counted as 1
MAX_DEPTH = 12  # nesting of a reply's JSON header (a module's description needs 6)
MAX_STRING = 64 << 10  # characters in one string of a reply (messages are cut at 2,000)
MAX_ITEMS = 4096  # entries in one list or object of a reply

_LENGTHS = struct.Struct("<II")
_INDEX_LENGTH = struct.Struct("<Q")  # a safetensors blob starts with its JSON index's length


def plain(t: torch.Tensor) -> torch.Tensor:
    """A detached, contiguous, CPU copy that is exactly a torch.Tensor (subclasses stripped)."""
    import torch

    if not isinstance(t, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(t).__name__}")
    t = t.as_subclass(torch.Tensor) if type(t) is not torch.Tensor else t
    return t.detach().to("cpu").contiguous().clone()


def encode(header: dict, tensors: dict[str, torch.Tensor] | None = None) -> bytes:
    head = json.dumps(header, allow_nan=True).encode()
    body = b""
    if tensors:
        from safetensors.torch import save as save_tensors

        body = save_tensors({k: plain(v) for k, v in tensors.items()})
    return _LENGTHS.pack(len(head), len(body)) + head + body


def write_frame(stream: BinaryIO, header: dict, tensors: dict[str, torch.Tensor] | None = None):
    stream.write(encode(header, tensors))
    stream.flush()


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(
    stream: BinaryIO, max_tensor_bytes: int = MAX_TENSOR_BYTES
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read one frame; raise EOFError on a closed stream and WireError on anything malformed."""
    head_len, body_len = _LENGTHS.unpack(_read_exact(stream, _LENGTHS.size))
    if head_len > MAX_HEADER_BYTES or body_len > max_tensor_bytes:
        raise WireError(f"frame too large ({head_len} + {body_len} bytes)")
    try:
        header = json.loads(_read_exact(stream, head_len))
    except ValueError as e:
        raise WireError(f"header is not JSON: {e}") from None
    except RecursionError:  # the decoder's own stack limit: `[[[[...` a million deep
        raise WireError("header nests too deeply") from None
    if not isinstance(header, dict):
        raise WireError("header is not a JSON object")
    body = _read_exact(stream, body_len) if body_len else b""
    return header, _load_tensors(body) if body else {}


def _load_tensors(body: bytes) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors blob, each checked: plain, allowed dtype, bounded size."""
    import torch
    from safetensors.torch import load as load_tensors

    if len(body) < _INDEX_LENGTH.size or _INDEX_LENGTH.unpack_from(body)[0] > MAX_HEADER_BYTES:
        raise WireError("tensor block is malformed: its index is missing or too large")
    try:
        tensors = load_tensors(body)
    except Exception as e:  # safetensors raises its own error types
        raise WireError(f"tensor block is malformed: {e}") from None
    if len(tensors) > MAX_TENSORS:
        raise WireError(f"{len(tensors)} tensors in one frame (at most {MAX_TENSORS})")
    for name, t in tensors.items():
        if type(t) is not torch.Tensor:
            raise WireError(f"tensor {name[:100]!r} is a {type(t).__name__}, not a plain tensor")
        if str(t.dtype).removeprefix("torch.") not in ALLOWED_DTYPES:
            raise WireError(f"tensor {name[:100]!r} has unsupported dtype {t.dtype}")
        if t.dim() > MAX_DIMS or math.prod(max(size, 1) for size in t.shape) > MAX_ELEMENTS:
            raise WireError(f"tensor {name[:100]!r} is too large: shape {tuple(t.shape)}")
    return tensors


# -- what a worker may reply (its schema: grader/protocol.py) ---------------------------


def reply_problem(header: dict) -> str | None:
    """What is wrong with a worker's reply header (None: it fits `REPLY`)."""
    for key in ("id", "status"):
        if key not in header:
            return f"it has no '{key}'"
    if header["status"] not in STATUSES:
        return f"its status {str(header['status'])[:40]!r} is none of {', '.join(STATUSES)}"
    return _problem(header, REPLY, "the reply", 0)


def _is(value: object, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else "null")


def _problem(value: object, schema: object, where: str, depth: int) -> str | None:
    """Why `value` (decoded JSON) does not fit `schema` (None when it does)."""
    if depth > MAX_DEPTH:
        return f"{where} nests deeper than {MAX_DEPTH} levels"
    limit = MAX_STRING if isinstance(value, str) else MAX_ITEMS
    if isinstance(value, (str, list, dict)) and len(value) > limit:
        return f"{where} is too long ({len(value):,} > {limit:,})"
    if isinstance(value, dict):
        if not (schema is ANY or isinstance(schema, (dict, Values))):
            return f"{where} is an object where {_expected(schema)} was expected"
        for key, item in value.items():
            if len(key) > MAX_STRING:
                return f"{where} has a key of {len(key):,} characters"
            part = schema.schema if isinstance(schema, Values) else ANY
            part = schema.get(key, ANY) if isinstance(schema, dict) else part
            if problem := _problem(item, part, f"{where}[{key[:40]!r}]", depth + 1):
                return problem
        return None
    if isinstance(value, list):
        if not (schema is ANY or isinstance(schema, list)):
            return f"{where} is a list where {_expected(schema)} was expected"
        part = ANY if schema is ANY else schema[0]
        for i, item in enumerate(value):
            if problem := _problem(item, part, f"{where}[{i}]", depth + 1):
                return problem
        return None
    kinds = schema if isinstance(schema, tuple) else (schema,)
    if schema is ANY or any(isinstance(k, type) and _is(value, k) for k in kinds):
        return None
    return f"{where} is {_kind(value)} where {_expected(schema)} was expected"


def _expected(schema: object) -> str:
    if isinstance(schema, (dict, Values)):
        return "an object"
    if isinstance(schema, list):
        return "a list"
    kinds = schema if isinstance(schema, tuple) else (schema,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
    return " or ".join(names.get(k, "null") for k in kinds)
