"""Pairwise point maps from an ONNX export of the Align3R / DUSt3R network (onnxruntime).

Same semantics as :class:`align3r_ros.backends.torch_pairwise.TorchPairwiseBackend`: each frame is
encoded once (image encoder and, for Align3R, the point-map branch) by ``encoder.onnx`` and kept
in a bounded LRU cache keyed by ``NetworkView.key``; pairs are decoded by ``decoder.onnx`` in
batches of ``batch_pairs``. No torch import: onnxruntime (CPU or CUDA execution provider) only.
Inference is fp32 (the exported graphs' dtype).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from align3r_ros.backends.base import NetworkView
from align3r_ros.config import Align3rConfig
from align3r_ros.errors import ConfigError, InputError, WeightsError
from align3r_ros.networks.pairwise_onnx_runtime import PairwiseOnnxSession
from align3r_ros.structures import PairPredictions

#: One frame's cached encoding: tokens (1, gh, gw, C_enc), injections (1, K, gh, gw, C_dec)|None.
_Encoding = Tuple[np.ndarray, Optional[np.ndarray]]


class OnnxPairwiseBackend:
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
        if batch_pairs < 1 or cache_frames < 1:
            raise ConfigError(f'batch_pairs={batch_pairs} and cache_frames={cache_frames} '
                              f'must be >= 1')
        self.session = PairwiseOnnxSession(folder, device=_resolve_device(device),
                                           threads=threads)
        self.needs_pointmap = self.session.needs_pointmap
        self.batch_pairs = int(batch_pairs)
        self.cache_frames = int(cache_frames)
        self._cache: 'OrderedDict[int, Tuple[Tuple[int, int], _Encoding]]' = OrderedDict()
        self.encode_count = 0  # frames encoded so far (for diagnostics and tests)

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

    # ------------------------------------------------------------------ protocol

    def predict(self, views: Sequence[NetworkView], edges: np.ndarray) -> PairPredictions:
        """Point maps for each directed edge (i, j): both in camera i's frame.

        Raises:
            InputError: no views, views of different sizes, bad edges, a missing or non-finite
                point map (Align3R).
        """
        edges = check_edges(views, edges)
        height, width = check_views(views, edges, self.needs_pointmap)
        if len(edges) == 0:
            empty = np.zeros((0, height, width, 3), np.float32)
            return PairPredictions(edges=edges, pts_i=empty, pts_j=empty.copy(),
                                   conf_i=empty[..., 0].copy(), conf_j=empty[..., 0].copy())
        used = sorted({int(v) for v in np.unique(edges)})
        by_index = dict(zip(used, self._encodings([views[i] for i in used])))
        outputs: List[List[np.ndarray]] = [[], [], [], []]
        for start in range(0, len(edges), self.batch_pairs):
            chunk = edges[start:start + self.batch_pairs]
            tokens1, inj1 = _stack([by_index[int(i)] for i in chunk[:, 0]])
            tokens2, inj2 = _stack([by_index[int(j)] for j in chunk[:, 1]])
            for store, value in zip(outputs, self.session.decode(tokens1, inj1, tokens2, inj2)):
                store.append(value)
        pts_i, conf_i, pts_j, conf_j = (np.concatenate(v).astype(np.float32) for v in outputs)
        return PairPredictions(edges=edges, pts_i=pts_i, pts_j=pts_j, conf_i=conf_i,
                               conf_j=conf_j)

    def forget(self, keys: Sequence[int]) -> None:
        """Drop cached encodings of these frames."""
        for key in keys:
            self._cache.pop(int(key), None)

    @property
    def cached_keys(self) -> List[int]:
        """Keys currently cached, least recently used first."""
        return list(self._cache)

    # ------------------------------------------------------------------ internals

    def _encodings(self, views: Sequence[NetworkView]) -> List[_Encoding]:
        """One (B=1) encoding per view: cached ones reused, the others encoded in batches."""
        found: Dict[int, _Encoding] = {}
        missing = []
        for view in views:
            key = int(view.key)
            cached = self._cache.get(key)
            if cached is not None and cached[0] == view.shape:
                self._cache.move_to_end(key)
                found[key] = cached[1]
            else:
                missing.append(view)
        for start in range(0, len(missing), self.batch_pairs):
            chunk = missing[start:start + self.batch_pairs]
            images = np.stack([np.asarray(v.image, np.float32) for v in chunk])
            pointmaps = np.stack([np.asarray(v.pointmap, np.float32) for v in chunk]) \
                if self.needs_pointmap else None
            tokens, injections = self.session.encode(images, pointmaps)
            self.encode_count += len(chunk)
            for b, view in enumerate(chunk):
                encoding = (tokens[b:b + 1], None if injections is None
                            else injections[b:b + 1])
                found[int(view.key)] = encoding
                self._remember(int(view.key), view.shape, encoding)
        return [found[int(view.key)] for view in views]

    def _remember(self, key: int, shape: Tuple[int, int], encoding: _Encoding) -> None:
        self._cache[key] = (shape, encoding)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_frames:
            self._cache.popitem(last=False)


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


def check_edges(views: Sequence[NetworkView], edges: np.ndarray) -> np.ndarray:
    """(E, 2) int64 edges indexing ``views``; InputError otherwise."""
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


def check_views(views: Sequence[NetworkView], edges: np.ndarray,
                needs_pointmap: bool) -> Tuple[int, int]:
    """(h, w) shared by all views; InputError on mixed sizes or missing / bad point maps."""
    shapes = {tuple(np.shape(v.image)) for v in views}
    if len(shapes) != 1:
        raise InputError(f'all views of one request must share one size, got '
                         f'{sorted(shapes)} (keys {[v.key for v in views]})')
    shape = next(iter(shapes))
    if len(shape) != 3 or shape[0] != 3:
        raise InputError(f'view images must be (3, h, w), got {shape}')
    if needs_pointmap:
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
