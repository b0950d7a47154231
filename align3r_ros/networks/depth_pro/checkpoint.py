"""Strict loading of the official ``depth_pro.pt`` (a plain state_dict of 1119 tensors).

Files are read with ``torch.load(weights_only=True)`` or safetensors, never unpickled freely.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Mapping, Optional, Union

import torch
from torch import Tensor

from align3r_ros.errors import WeightsError
from align3r_ros.networks.depth_pro.build import build_depth_pro
from align3r_ros.networks.depth_pro.config import (ConfigLike, DepthProConfig, OFFICIAL_NAME,
                                                   resolve_config, ViTConfig)
from align3r_ros.networks.depth_pro.model import DepthPro
from align3r_ros.networks.checkpoint_file import load_weights_file

#: How many offending keys an error message lists per category.
_LISTED_KEYS = 8


@functools.lru_cache(maxsize=1)
def expected_keys() -> frozenset:
    """The 1119 state_dict key names, which are the same for every width configuration."""
    smallest = DepthProConfig(vit=ViTConfig(embed_dim=8, num_heads=1, mlp_hidden_dim=8),
                              encoder_feature_dims=(8, 8, 8, 8), decoder_features=8)
    return frozenset(build_depth_pro(smallest, device='meta').state_dict())


def detect_variant(shapes: Mapping[str, tuple]) -> Optional[str]:
    """'depth_pro' when ``shapes`` (key -> shape) has exactly Depth Pro's key set, else None.

    Widths are not checked, so the tiny fixture is recognised too; ``load_depth_pro`` checks
    the shapes against a configuration.
    """
    return OFFICIAL_NAME if frozenset(shapes) == expected_keys() else None


def read_state_dict(path: Union[str, Path]) -> dict:
    """Tensors of a ``.safetensors`` file or a ``torch.save``-d plain state_dict.

    Raises:
        WeightsError: missing file, unreadable / non-weights-only content, or not a flat
            mapping of names to tensors.
    """
    state = load_weights_file(path, 'Depth Pro checkpoint')
    if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        raise WeightsError(f'{path} is not a plain state_dict of tensors (the official '
                           'depth_pro.pt is one)')
    return dict(state)


def check_state_dict(state: Mapping[str, Tensor], model: DepthPro, source: str) -> None:
    """Raise WeightsError naming missing, unexpected and mis-shaped keys (strict check)."""
    wanted = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    missing = sorted(set(wanted) - set(state))
    unexpected = sorted(set(state) - set(wanted))
    misshaped = sorted(f'{name} {tuple(state[name].shape)} != {wanted[name]}'
                       for name in set(wanted) & set(state)
                       if tuple(state[name].shape) != wanted[name])
    non_float = sorted(name for name, t in state.items() if not t.is_floating_point())
    problems = []
    for label, items in (('missing', missing), ('unexpected', unexpected),
                         ('mis-shaped', misshaped), ('not floating point', non_float)):
        if items:
            shown = ', '.join(items[:_LISTED_KEYS])
            more = f' (+{len(items) - _LISTED_KEYS} more)' if len(items) > _LISTED_KEYS else ''
            problems.append(f'{len(items)} {label}: {shown}{more}')
    if problems:
        raise WeightsError(f'{source} does not match Depth Pro: ' + '; '.join(problems))


def load_depth_pro(path: Union[str, Path], config: Optional[ConfigLike] = None,
                   device: Union[str, torch.device] = 'cpu',
                   dtype: torch.dtype = torch.float32) -> DepthPro:
    """Build Depth Pro and load weights strictly, in eval mode.

    Args:
        path: ``depth_pro.pt`` (plain state_dict) or a ``.safetensors`` file.
        config: 'depth_pro' (default when None), a fixture config.json mapping or a
            DepthProConfig.
        device: where the model lives.
        dtype: parameter dtype (the checkpoint's tensors are cast to it).

    Raises:
        WeightsError: unreadable file, or keys / shapes that do not match the configuration.
        ConfigError: an invalid configuration.
    """
    resolved = resolve_config(OFFICIAL_NAME if config is None else config)
    state = read_state_dict(path)
    model = build_depth_pro(resolved, device='meta')
    check_state_dict(state, model, str(path))
    cast = {name: t.to(device=device, dtype=dtype) for name, t in state.items()}
    model.load_state_dict(cast, strict=True, assign=True)
    return model.eval()
