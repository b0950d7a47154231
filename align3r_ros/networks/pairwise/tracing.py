"""Whether the network is being traced or compiled (export skips Python-side caches, checks)."""

from __future__ import annotations

import torch


def is_tracing() -> bool:
    """True under ``torch.jit.trace``, ONNX export or ``torch.compile``."""
    if torch.jit.is_tracing():
        return True
    if torch.onnx.is_in_onnx_export():
        return True
    compiler = getattr(torch, 'compiler', None)
    return bool(compiler is not None and compiler.is_compiling())
