"""The judge <-> worker wire format: a JSON header plus named tensors, never pickle.

A frame is two little-endian uint32 lengths, the UTF-8 JSON header, then a safetensors
blob. safetensors is a JSON index followed by raw little-endian bytes: loading it runs no
code, and what comes out is a plain `torch.Tensor` whatever the sender put in, so a tensor
subclass or an object with a lying `__eq__` cannot cross the boundary.
"""

from __future__ import annotations

import json
import struct
from typing import BinaryIO

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

MAX_HEADER_BYTES = 1 << 20  # 1 MiB of JSON
MAX_TENSOR_BYTES = 256 << 20  # 256 MiB of tensors (GPT-2-sized weights are ~9 MiB)
ALLOWED_DTYPES = frozenset(
    {
        torch.float32,
        torch.float64,
        torch.float16,
        torch.bfloat16,
        torch.bool,
        torch.int64,
        torch.int32,
    }
)

_LENGTHS = struct.Struct("<II")


class WireError(Exception):
    """The other side sent something that is not a well-formed frame."""


def plain(t: torch.Tensor) -> torch.Tensor:
    """A detached, contiguous, CPU copy that is exactly a torch.Tensor (subclasses stripped)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(t).__name__}")
    t = t.as_subclass(torch.Tensor) if type(t) is not torch.Tensor else t
    return t.detach().to("cpu").contiguous().clone()


def encode(header: dict, tensors: dict[str, torch.Tensor] | None = None) -> bytes:
    head = json.dumps(header, allow_nan=True).encode()
    body = save_tensors({k: plain(v) for k, v in (tensors or {}).items()}) if tensors else b""
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
    if not isinstance(header, dict):
        raise WireError("header is not a JSON object")
    body = _read_exact(stream, body_len) if body_len else b""
    try:
        tensors = load_tensors(body) if body else {}
    except Exception as e:  # safetensors raises its own error types
        raise WireError(f"tensor block is malformed: {e}") from None
    for name, t in tensors.items():
        if t.dtype not in ALLOWED_DTYPES:
            raise WireError(f"tensor {name!r} has unsupported dtype {t.dtype}")
    return header, tensors
