"""configure_runtime applies runtime.threads to torch (0 leaves torch alone); resolve_device."""

from __future__ import annotations

import pytest
import torch

from align3r_ros.config import Device, RuntimeConfig
from align3r_ros.errors import ConfigError
from align3r_ros.runtime import configure_runtime, resolve_device


def test_threads_are_applied_and_zero_leaves_torch_alone():
    before = torch.get_num_threads()
    try:
        configure_runtime(RuntimeConfig(threads=1))
        assert torch.get_num_threads() == 1
        configure_runtime(RuntimeConfig(threads=0))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_resolve_device_auto_follows_cuda_and_names_are_kept():
    expected = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert resolve_device(Device.AUTO).type == expected
    assert resolve_device('auto').type == expected
    assert resolve_device(Device.CPU) == torch.device('cpu')
    assert resolve_device(torch.device('meta')) == torch.device('meta')


def test_resolve_device_rejects_unusable_devices_with_a_config_error():
    with pytest.raises(ConfigError, match='not a device'):
        resolve_device('gpu0')
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="runtime.device='cuda'"):
            resolve_device(Device.CUDA)
