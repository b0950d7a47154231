"""Neural networks: the pairwise point-map net (Align3R / DUSt3R) and the monocular depth priors.

Builders are imported lazily so that ``import align3r_ros.networks`` does not import torch models
that a caller does not use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    'build_pairwise_net': 'align3r_ros.networks.pairwise.build',
    'PairwisePointMapNet': 'align3r_ros.networks.pairwise.model',
    'PairwiseOutput': 'align3r_ros.networks.pairwise.model',
    'FrameEncoding': 'align3r_ros.networks.pairwise.encoding',
    'load_pairwise_net': 'align3r_ros.networks.pairwise.checkpoint',
    'build_depth_anything_v2': 'align3r_ros.networks.depth_anything.build',
    'build_depth_pro': 'align3r_ros.networks.depth_pro.build',
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(module_name), name)
