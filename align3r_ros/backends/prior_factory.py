"""Build the configured prior backend (``prior.*``, ``runtime.*``); never downloads anything.

Heavy dependencies (torch models, onnxruntime) are imported only for the backend asked for.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from align3r_ros.backends.base import PriorBackend
from align3r_ros.backends.checkpoint_prior_pairing import check_pairing
from align3r_ros.config import Align3rConfig, DType, PriorBackendKind
from align3r_ros.errors import ConfigError, WeightsError
from align3r_ros.runtime import resolve_device

LOG = logging.getLogger(__name__)

_DOWNLOAD_NAMES = {
    PriorBackendKind.DEPTH_PRO: 'depth_pro',
    PriorBackendKind.DEPTH_ANYTHING_V2: 'depth_anything_v2_vitl',
    PriorBackendKind.ONNX: None,
}


def _weights_path(config: Align3rConfig) -> Path:
    backend = config.prior.backend
    hint = _DOWNLOAD_NAMES.get(backend)
    fetch = f'; fetch it with `align3r-weights download {hint}`' if hint else ''
    if not config.prior.weights:
        raise WeightsError(f'prior.backend {backend} needs prior.weights (a file path){fetch}')
    path = Path(config.prior.weights).expanduser()
    if not path.is_file():
        raise WeightsError(f'prior.weights {config.prior.weights!r} not found{fetch}')
    return path


def _autocast_dtype(dtype: DType) -> Any:
    import torch

    return {DType.FP32: None, DType.FP16: torch.float16, DType.BF16: torch.bfloat16}[dtype]


def build_prior_backend(config: Align3rConfig) -> Optional[PriorBackend]:
    """The prior backend ``config.prior`` describes, or None for ``prior.backend: none``.

    Runs :func:`check_pairing` first (warnings are logged) so that a checkpoint / prior
    mismatch fails before any model is loaded.

    Raises:
        ConfigError: a detectable checkpoint <-> prior mismatch, or an ONNX model whose
            declared kind differs from prior.kind.
        WeightsError: prior.weights empty, missing or not the expected model.
        ConfigError: the requested device is unavailable (``runtime.resolve_device``).
    """
    for warning in check_pairing(config):
        LOG.warning('%s', warning)
    prior = config.prior
    if prior.backend == PriorBackendKind.NONE:
        return None
    if prior.backend == PriorBackendKind.EXTERNAL:
        from align3r_ros.backends.prior_external import ExternalPriorBackend

        return ExternalPriorBackend(kind=prior.kind)
    path = _weights_path(config)
    runtime = config.runtime
    if prior.backend == PriorBackendKind.ONNX:
        from align3r_ros.backends.prior_onnx import OnnxPriorBackend

        backend = OnnxPriorBackend(path, device=str(runtime.device), threads=runtime.threads)
        if backend.kind != prior.kind:
            # prior.kind is the user's declaration that check_pairing validated; a model that
            # says otherwise would slip the wrong geometry past that check.
            raise ConfigError(f'prior.kind is {prior.kind} but {str(path)!r} declares '
                              f'{backend.kind} (align3r.prior_kind); set prior.kind: '
                              f'{backend.kind}')
        return backend
    from align3r_ros.backends.prior_torch import (
        DepthAnythingPriorBackend, DepthProPriorBackend)

    device = resolve_device(runtime.device)
    autocast = _autocast_dtype(runtime.dtype)
    if prior.backend == PriorBackendKind.DEPTH_PRO:
        return DepthProPriorBackend.from_weights(path, device=device, autocast_dtype=autocast)
    return DepthAnythingPriorBackend.from_weights(path, model_name=prior.model, device=device,
                                                  autocast_dtype=autocast)
