"""Pairwise point maps from an ONNX export of the Align3R / DUSt3R network (onnxruntime).

Same semantics as :class:`align3r_ros.backends.torch_pairwise.TorchPairwiseBackend`: each frame is
encoded once (image encoder and, for Align3R, the point-map branch) by ``encoder.onnx`` and kept
in a bounded LRU cache keyed by ``NetworkView.key``; pairs are decoded by ``decoder.onnx`` in
batches of ``batch_pairs``. No torch import: onnxruntime (CPU or CUDA execution provider) only.
Inference is fp32 (the exported graphs' dtype).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from align3r_ros.backends.base import NetworkView
from align3r_ros.backends.pair_request import CachedPairwiseBackend, DecodedChunk
from align3r_ros.config import Align3rConfig
from align3r_ros.errors import WeightsError
from align3r_ros.networks.pairwise.onnx_runtime import PairwiseOnnxSession

#: One frame's cached encoding: tokens (1, gh, gw, C_enc), injections (1, K, gh, gw, C_dec)|None.
_Encoding = Tuple[np.ndarray, Optional[np.ndarray]]


class OnnxPairwiseBackend(CachedPairwiseBackend[_Encoding]):
    """``PairwiseBackend`` running an exported encoder / decoder pair in onnxruntime.

    Args:
        folder: export folder written by ``align3r-export-onnx --model pairwise``.
        device: 'cpu', 'cuda' or 'auto' (cuda when onnxruntime has the CUDA provider).
        batch_pairs: pairs decoded per decoder call (also frames encoded per encoder call).
        cache_frames: frame encodings kept between calls (LRU; older ones are re-encoded).
        threads: onnxruntime intra-op threads (0: its default).

    Raises:
        WeightsError: not an export folder. BackendError: onnxruntime or the provider missing.
    """

    def __init__(self, folder: Union[str, Path], device: str = 'cpu', batch_pairs: int = 8,
                 cache_frames: int = 64, threads: int = 0) -> None:
        super().__init__(batch_pairs, cache_frames)
        self.session = PairwiseOnnxSession(folder, device=_resolve_device(device),
                                           threads=threads)
        self.needs_pointmap = self.session.needs_pointmap

    @classmethod
    def from_config(cls, config: Align3rConfig) -> 'OnnxPairwiseBackend':
        """Open ``pairwise.weights`` (the export folder) on ``runtime.device``.

        Raises:
            WeightsError: ``pairwise.weights`` empty or not an export folder.
        """
        folder = config.pairwise.weights
        if not folder:
            raise WeightsError('pairwise.weights is empty: for the onnx backend set it to the '
                               'folder written by align3r-export-onnx (encoder.onnx, '
                               'decoder.onnx)')
        return cls(folder, device=str(config.runtime.device),
                   batch_pairs=config.pairwise.batch_pairs,
                   cache_frames=config.pairwise.cache_frames, threads=config.runtime.threads)

    # ------------------------------------------------------------------ internals

    def _decode(self, first: List[_Encoding], second: List[_Encoding]) -> DecodedChunk:
        tokens1, inj1 = _stack(first)
        tokens2, inj2 = _stack(second)
        pts_i, conf_i, pts_j, conf_j = self.session.decode(tokens1, inj1, tokens2, inj2)
        return pts_i, conf_i, pts_j, conf_j

    def _encode(self, views: Sequence[NetworkView]) -> List[_Encoding]:
        """One (B=1) encoding per view, encoded in one encoder call."""
        images = np.stack([np.asarray(v.image, np.float32) for v in views])
        pointmaps = np.stack([np.asarray(v.pointmap, np.float32) for v in views]) \
            if self.needs_pointmap else None
        tokens, injections = self.session.encode(images, pointmaps)
        self.encode_count += len(views)
        return [(tokens[b:b + 1], None if injections is None else injections[b:b + 1])
                for b in range(len(views))]


def _resolve_device(device: str) -> str:
    if device != 'auto':
        return device
    try:
        import onnxruntime as ort
    except ImportError:
        return 'cpu'  # the session reports the missing package
    return 'cuda' if 'CUDAExecutionProvider' in ort.get_available_providers() else 'cpu'


def _stack(encodings: Sequence[_Encoding]) -> _Encoding:
    tokens = np.concatenate([e[0] for e in encodings])
    if encodings[0][1] is None:
        return tokens, None
    return tokens, np.concatenate([e[1] for e in encodings])
