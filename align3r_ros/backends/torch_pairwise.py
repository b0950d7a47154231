"""Pairwise point maps from the torch Align3R / DUSt3R network, with a per-frame encoder cache.

Each frame is encoded once (image encoder and, for Align3R, the point-map branch) and the
encoding is kept in a bounded LRU cache keyed by ``NetworkView.key``; pairs are then decoded in
batches of ``batch_pairs``. In a sliding-window graph every frame appears in 10-20 pairs, so this
replaces 2 encodes per pair by 1 per frame (the official code re-encodes both images per pair).

Inference runs under ``torch.inference_mode()``; on CUDA the trunk runs under autocast
(fp16 / bf16) while the DPT heads stay fp32; on CPU everything is fp32.
"""

from __future__ import annotations

import logging
from typing import List, Sequence, Union

import numpy as np
import torch

from align3r_ros.backends.base import NetworkView
from align3r_ros.backends.pair_request import CachedPairwiseBackend, DecodedChunk
from align3r_ros.config import Align3rConfig
from align3r_ros.errors import ConfigError, WeightsError
from align3r_ros.networks.pairwise.encoding import FrameEncoding
from align3r_ros.networks.pairwise.model import PairwisePointMapNet
from align3r_ros.runtime import resolve_device

_LOG = logging.getLogger(__name__)
_DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


def resolve_dtype(dtype: Union[str, torch.dtype]) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in _DTYPES.values():
            raise ConfigError(f'unsupported inference dtype {dtype}')
        return dtype
    if str(dtype) not in _DTYPES:
        raise ConfigError(f'unsupported inference dtype {dtype!r}; choose from {sorted(_DTYPES)}')
    return _DTYPES[str(dtype)]


class TorchPairwiseBackend(CachedPairwiseBackend[FrameEncoding]):
    """``PairwiseBackend`` running :class:`PairwisePointMapNet` in torch.

    Args:
        net: the network (fp32 parameters; moved to ``device``).
        device: 'cpu', 'cuda', 'cuda:N' or 'auto'.
        dtype: autocast dtype on CUDA ('fp32', 'fp16', 'bf16' or a torch dtype); ignored on CPU,
            where inference is fp32.
        batch_pairs: pairs decoded per forward call (also frames encoded per call).
        cache_frames: frame encodings kept between calls (LRU; older ones are re-encoded).
    """

    def __init__(self, net: PairwisePointMapNet, device: Union[str, torch.device] = 'cpu',
                 dtype: Union[str, torch.dtype] = 'fp32', batch_pairs: int = 8,
                 cache_frames: int = 64) -> None:
        super().__init__(batch_pairs, cache_frames)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        if self.device.type != 'cuda' and self.dtype != torch.float32:
            _LOG.info('dtype %s ignored on %s: inference runs in fp32', self.dtype, self.device)
            self.dtype = torch.float32
        self.net = net.to(self.device).eval()
        self.needs_pointmap = bool(net.needs_pointmap)

    @classmethod
    def from_config(cls, config: Align3rConfig) -> 'TorchPairwiseBackend':
        """Load ``pairwise.weights`` on ``runtime.device`` with ``runtime.dtype``.

        Raises:
            WeightsError: no weights configured, or an unloadable checkpoint.
        """
        from align3r_ros.networks.pairwise.checkpoint import load_pairwise_net

        weights = config.pairwise.weights
        if not weights:
            raise WeightsError('pairwise.weights is empty: set it to an Align3R / DUSt3R '
                               'checkpoint (.pth or .safetensors)')
        device = resolve_device(config.runtime.device)
        net = load_pairwise_net(weights, device=device)
        return cls(net, device=device, dtype=str(config.runtime.dtype),
                   batch_pairs=config.pairwise.batch_pairs,
                   cache_frames=config.pairwise.cache_frames)

    # ------------------------------------------------------------------ internals

    def _autocast(self):
        enabled = self.device.type == 'cuda' and self.dtype != torch.float32
        return torch.autocast(device_type=self.device.type, dtype=self.dtype, enabled=enabled)

    def _decode(self, first: List[FrameEncoding], second: List[FrameEncoding]) -> DecodedChunk:
        with torch.inference_mode(), self._autocast():
            out = self.net.decode(FrameEncoding.concat(first), FrameEncoding.concat(second))
        return (_to_numpy(out.pts3d), _to_numpy(out.conf), _to_numpy(out.pts3d_in_other_view),
                _to_numpy(out.conf_in_other_view))

    def _encode(self, views: Sequence[NetworkView]) -> List[FrameEncoding]:
        """One (B=1) encoding per view, encoded in one forward call."""
        images = torch.from_numpy(np.stack([np.asarray(v.image, np.float32) for v in views]))
        pointmaps = None
        if self.needs_pointmap:
            pointmaps = torch.from_numpy(
                np.stack([np.asarray(v.pointmap, np.float32) for v in views]))
            pointmaps = pointmaps.to(self.device)
        with torch.inference_mode(), self._autocast():
            encoding = self.net.encode(images.to(self.device), pointmaps)
        self.encode_count += len(views)
        return [encoding.select(b) for b in range(len(views))]


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()
