"""Which network a checkpoint holds, from its tensor names and shapes alone.

Pairwise networks are recognised here ('align3r', 'dust3r'); the monocular priors by their own
packages (``depth_anything.checkpoint.detect_variant``, ``depth_pro.checkpoint.detect_variant``),
each consulted only when importable.
"""

from __future__ import annotations

import importlib
from typing import Callable, Mapping, Optional

from align3r_ros.errors import WeightsError
from align3r_ros.networks.pairwise.checkpoint import detect_pairwise_architecture

_PRIOR_DETECTORS = ('align3r_ros.networks.depth_anything.checkpoint',
                    'align3r_ros.networks.depth_pro.checkpoint')


def detect_checkpoint(shapes: Mapping[str, tuple]) -> str:
    """Architecture name of a state dict.

    Args:
        shapes: {tensor name: shape} of the checkpoint's state dict.

    Returns:
        'align3r', 'dust3r', or a prior's name such as 'depth_anything_v2_vitl' / 'depth_pro'.

    Raises:
        WeightsError: no known architecture matches.
    """
    found = detect_pairwise_architecture(shapes)
    if found is not None:
        return found
    for detector in _prior_detectors():
        found = detector(shapes)
        if found is not None:
            return found
    sample = sorted(shapes)[:3]
    raise WeightsError(f'unknown architecture: {len(shapes)} tensors (e.g. {sample}) match '
                       f'neither Align3R / DUSt3R nor a supported depth prior')


def _prior_detectors() -> list:
    detectors = []
    for module_name in _PRIOR_DETECTORS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        detector: Optional[Callable] = getattr(module, 'detect_variant', None)
        if detector is not None:
            detectors.append(detector)
    return detectors
