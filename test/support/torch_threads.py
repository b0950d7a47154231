"""Torch on one intra-op thread for a block of test code (the fixture ``one_torch_thread`` in
test/conftest.py wraps this for whole test modules)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from align3r_ros.config import RuntimeConfig
from align3r_ros.runtime import configure_runtime


@contextlib.contextmanager
def single_torch_thread() -> Iterator[None]:
    """Run the block on one torch thread, restored afterwards, through the runtime
    configuration every entry point uses (``runtime.threads``).

    On a shared 2-core machine two threads oversubscribe the cores and make each solve several
    times slower; one thread also makes cpu reductions bitwise reproducible run to run.
    """
    import torch

    previous = torch.get_num_threads()
    configure_runtime(RuntimeConfig(threads=1))
    try:
        yield
    finally:
        configure_runtime(RuntimeConfig(threads=previous))
