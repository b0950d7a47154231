"""configure_runtime applies runtime.threads to torch, and 0 leaves torch alone."""

from __future__ import annotations

import torch

from align3r_ros.config import RuntimeConfig
from align3r_ros.runtime import configure_runtime


def test_threads_are_applied_and_zero_leaves_torch_alone():
    before = torch.get_num_threads()
    try:
        configure_runtime(RuntimeConfig(threads=1))
        assert torch.get_num_threads() == 1
        configure_runtime(RuntimeConfig(threads=0))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
