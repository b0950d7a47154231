"""Build the pairwise backend named by ``pairwise.backend`` (heavy imports only when chosen)."""

from __future__ import annotations

from align3r_ros.backends.base import PairwiseBackend
from align3r_ros.config import Align3rConfig, PairwiseBackendKind
from align3r_ros.errors import ConfigError


def build_pairwise_backend(config: Align3rConfig) -> PairwiseBackend:
    """torch, onnx or oracle, built from the config.

    Raises:
        ConfigError: unknown backend kind. WeightsError / BackendError from the backend itself
        (missing weights, onnxruntime unavailable).
    """
    kind = PairwiseBackendKind(config.pairwise.backend)
    if kind == PairwiseBackendKind.ORACLE:
        from align3r_ros.backends.oracle import OracleBackend
        return OracleBackend.from_config(config)
    if kind == PairwiseBackendKind.TORCH:
        from align3r_ros.backends.torch_pairwise import TorchPairwiseBackend
        return TorchPairwiseBackend.from_config(config)
    if kind == PairwiseBackendKind.ONNX:
        from align3r_ros.backends.onnx_pairwise import OnnxPairwiseBackend
        return OnnxPairwiseBackend.from_config(config)
    raise ConfigError(f'pairwise.backend: unknown kind {kind!r}')
