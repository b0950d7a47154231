"""Pairwise point maps from the torch Align3R / DUSt3R network, with a per-frame encoder cache.

Each frame is encoded once (image encoder and, for Align3R, the point-map branch) and the
encoding is kept in a bounded LRU cache keyed by ``NetworkView.key``; pairs are then decoded in
batches of ``batch_pairs``. In a sliding-window graph every frame appears in 10-20 pairs, so this
replaces 2 encodes per pair by 1 per frame (the official code re-encodes both images per pair).

Inference runs under ``torch.inference_mode()``; on CUDA the trunk runs under autocast
(fp16 / bf16) while the DPT heads stay fp32; on CPU everything is fp32.
"""

from __future__ import annotations

from collections import OrderedDict
import logging
from typing import Dict, List, Sequence, Union

import numpy as np
import torch

from align3r_ros.backends.base import NetworkView
from align3r_ros.config import Align3rConfig
from align3r_ros.errors import BackendError, ConfigError, InputError, WeightsError
from align3r_ros.networks.pairwise.encoding import FrameEncoding
from align3r_ros.networks.pairwise.model import PairwisePointMapNet
from align3r_ros.structures import PairPredictions

_LOG = logging.getLogger(__name__)
_DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


def resolve_device(device: Union[str, torch.device]) -> torch.device:
    """'auto' -> cuda when available else cpu; 'cuda' without a GPU raises BackendError."""
    name = str(device)
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    resolved = torch.device(name)
    if resolved.type == 'cuda' and not torch.cuda.is_available():
        raise BackendError(f'runtime.device={name!r} but no CUDA device is available')
    return resolved


def resolve_dtype(dtype: Union[str, torch.dtype]) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in _DTYPES.values():
            raise ConfigError(f'unsupported inference dtype {dtype}')
        return dtype
    if str(dtype) not in _DTYPES:
        raise ConfigError(f'unsupported inference dtype {dtype!r}; choose from {sorted(_DTYPES)}')
    return _DTYPES[str(dtype)]


class TorchPairwiseBackend:
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
        if batch_pairs < 1 or cache_frames < 1:
            raise ConfigError(f'batch_pairs={batch_pairs} and cache_frames={cache_frames} '
                              f'must be >= 1')
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        if self.device.type != 'cuda' and self.dtype != torch.float32:
            _LOG.info('dtype %s ignored on %s: inference runs in fp32', self.dtype, self.device)
            self.dtype = torch.float32
        self.net = net.to(self.device).eval()
        self.needs_pointmap = bool(net.needs_pointmap)
        self.batch_pairs = int(batch_pairs)
        self.cache_frames = int(cache_frames)
        self._cache: 'OrderedDict[int, FrameEncoding]' = OrderedDict()
        self.encode_count = 0  # frames encoded so far (for diagnostics and tests)

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
        device = resolve_device(str(config.runtime.device))
        net = load_pairwise_net(weights, device=device)
        return cls(net, device=device, dtype=str(config.runtime.dtype),
                   batch_pairs=config.pairwise.batch_pairs,
                   cache_frames=config.pairwise.cache_frames)

    # ------------------------------------------------------------------ protocol

    def predict(self, views: Sequence[NetworkView], edges: np.ndarray) -> PairPredictions:
        """Point maps for each directed edge (i, j): both in camera i's frame.

        Raises:
            InputError: no views, views of different sizes, bad edges, a missing or non-finite
                point map (Align3R).
        """
        edges = self._check_edges(views, edges)
        height, width = self._check_views(views, edges)
        if len(edges) == 0:
            empty = np.zeros((0, height, width, 3), np.float32)
            return PairPredictions(edges=edges, pts_i=empty, pts_j=empty.copy(),
                                   conf_i=empty[..., 0].copy(), conf_j=empty[..., 0].copy())
        used = sorted({int(v) for v in np.unique(edges)})
        encodings = self._encodings([views[i] for i in used])
        by_index = dict(zip(used, encodings))
        pts_i, pts_j, conf_i, conf_j = [], [], [], []
        for start in range(0, len(edges), self.batch_pairs):
            chunk = edges[start:start + self.batch_pairs]
            enc1 = FrameEncoding.concat([by_index[int(i)] for i in chunk[:, 0]])
            enc2 = FrameEncoding.concat([by_index[int(j)] for j in chunk[:, 1]])
            with torch.inference_mode(), self._autocast():
                out = self.net.decode(enc1, enc2)
            pts_i.append(_to_numpy(out.pts3d))
            pts_j.append(_to_numpy(out.pts3d_in_other_view))
            conf_i.append(_to_numpy(out.conf))
            conf_j.append(_to_numpy(out.conf_in_other_view))
        return PairPredictions(edges=edges, pts_i=np.concatenate(pts_i),
                               pts_j=np.concatenate(pts_j), conf_i=np.concatenate(conf_i),
                               conf_j=np.concatenate(conf_j))

    def forget(self, keys: Sequence[int]) -> None:
        """Drop cached encodings of these frames."""
        for key in keys:
            self._cache.pop(int(key), None)

    @property
    def cached_keys(self) -> List[int]:
        """Keys currently cached, least recently used first."""
        return list(self._cache)

    # ------------------------------------------------------------------ internals

    def _autocast(self):
        enabled = self.device.type == 'cuda' and self.dtype != torch.float32
        return torch.autocast(device_type=self.device.type, dtype=self.dtype, enabled=enabled)

    def _encodings(self, views: Sequence[NetworkView]) -> List[FrameEncoding]:
        """One (B=1) encoding per view: cached ones reused, the others encoded in batches."""
        found: Dict[int, FrameEncoding] = {}
        missing = []
        for view in views:
            key = int(view.key)
            cached = self._cache.get(key)
            if cached is not None and cached.image_hw == view.shape:
                self._cache.move_to_end(key)
                found[key] = cached
            else:
                missing.append(view)
        for start in range(0, len(missing), self.batch_pairs):
            chunk = missing[start:start + self.batch_pairs]
            batch = self._encode(chunk)
            for b, view in enumerate(chunk):
                found[int(view.key)] = batch.select(b)
                self._remember(int(view.key), found[int(view.key)])
        return [found[int(view.key)] for view in views]

    def _encode(self, views: Sequence[NetworkView]) -> FrameEncoding:
        images = torch.from_numpy(np.stack([np.asarray(v.image, np.float32) for v in views]))
        pointmaps = None
        if self.needs_pointmap:
            pointmaps = torch.from_numpy(
                np.stack([np.asarray(v.pointmap, np.float32) for v in views]))
            pointmaps = pointmaps.to(self.device)
        with torch.inference_mode(), self._autocast():
            encoding = self.net.encode(images.to(self.device), pointmaps)
        self.encode_count += len(views)
        return encoding

    def _remember(self, key: int, encoding: FrameEncoding) -> None:
        self._cache[key] = encoding
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_frames:
            self._cache.popitem(last=False)

    @staticmethod
    def _check_edges(views: Sequence[NetworkView], edges: np.ndarray) -> np.ndarray:
        if len(views) == 0:
            raise InputError('predict() needs at least one view, got none')
        edges = np.asarray(edges)
        if edges.size == 0:
            return np.zeros((0, 2), np.int64)
        if edges.ndim != 2 or edges.shape[1] != 2 or not np.issubdtype(edges.dtype, np.integer):
            raise InputError(f'edges must be an (E, 2) integer array, got shape {edges.shape} '
                             f'dtype {edges.dtype}')
        bad = edges[(edges < 0).any(axis=1) | (edges >= len(views)).any(axis=1)]
        if len(bad):
            raise InputError(f'edge {bad[0].tolist()} indexes outside the {len(views)} views')
        return edges.astype(np.int64)

    def _check_views(self, views: Sequence[NetworkView], edges: np.ndarray) -> tuple:
        shapes = {tuple(v.image.shape) for v in views}
        if len(shapes) != 1:
            raise InputError(f'all views of one request must share one size, got '
                             f'{sorted(shapes)} (keys {[v.key for v in views]})')
        shape = next(iter(shapes))
        if len(shape) != 3 or shape[0] != 3:
            raise InputError(f'view images must be (3, h, w), got {shape}')
        if not self.needs_pointmap:
            return shape[1], shape[2]
        for index in sorted({int(v) for v in np.unique(edges)}):
            view = views[index]
            if view.pointmap is None:
                raise InputError(f'view key={view.key} has no point map, which the Align3R '
                                 f'network needs (prior missing?)')
            pointmap = np.asarray(view.pointmap)
            if pointmap.shape != (shape[1], shape[2], 3):
                raise InputError(f'view key={view.key}: point map shape {pointmap.shape} does '
                                 f'not match the image ({shape[1]}, {shape[2]}, 3)')
            if not np.isfinite(pointmap).all():
                raise InputError(f'view key={view.key}: point map has '
                                 f'{int((~np.isfinite(pointmap)).sum())} non-finite values')
        return shape[1], shape[2]


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()

