"""Depth Pro (Apple ml-depth-pro), weight-compatible re-implementation in PyTorch.

Public API: ``build_depth_pro``, ``load_depth_pro``, ``detect_variant``, ``DepthPro``,
``DepthProPrediction``, ``DepthProConfig``, ``preprocess_rgb``, ``predict_depth``.
Names are resolved lazily so that ``align3r_ros.networks.depth_pro.config`` (stdlib only) can be
imported without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_PACKAGE = 'align3r_ros.networks.depth_pro'
_LAZY = {
    'DepthPro': 'model',
    'DepthProConfig': 'config',
    'DepthProPrediction': 'infer',
    'ViTConfig': 'config',
    'build_depth_pro': 'build',
    'detect_variant': 'checkpoint',
    'load_depth_pro': 'checkpoint',
    'predict_depth': 'infer',
    'preprocess_rgb': 'preprocess',
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(f'{_PACKAGE}.{module_name}'), name)
