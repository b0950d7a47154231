"""What every pairwise network backend shares: request checks, the per-frame encoding cache and
the predict flow.

The torch and onnxruntime backends differ only in how a batch of frames is encoded and a batch
of pairs decoded (:class:`CachedPairwiseBackend`'s two hooks); validation of a
``predict(views, edges)`` request, the bounded LRU cache of per-frame encodings (keyed by
``NetworkView.key``) and the chunked decoding live here once.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Dict, Generic, List, Optional, Sequence, Tuple, TypeVar

import numpy as np

from align3r_ros.backends.base import NetworkView
from align3r_ros.errors import ConfigError, InputError
from align3r_ros.structures import PairPredictions

Encoding = TypeVar('Encoding')

#: Decoded outputs of a chunk of pairs: pts_i (B,h,w,3), conf_i (B,h,w), pts_j, conf_j.
DecodedChunk = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


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


def empty_predictions(height: int, width: int) -> PairPredictions:
    """Predictions for a request with no edges, at (height, width)."""
    empty = np.zeros((0, height, width, 3), np.float32)
    return PairPredictions(edges=np.zeros((0, 2), np.int64), pts_i=empty, pts_j=empty.copy(),
                           conf_i=empty[..., 0].copy(), conf_j=empty[..., 0].copy())


class EncodingCache(Generic[Encoding]):
    """Bounded LRU of per-frame encodings keyed by ``NetworkView.key``.

    An entry is reused only for a view of the same (h, w); the least recently used entry is
    dropped beyond ``capacity`` frames.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self._entries: 'OrderedDict[int, Tuple[Tuple[int, int], Encoding]]' = OrderedDict()

    def encodings(self, views: Sequence[NetworkView], batch_size: int,
                  encode_batch: Callable[[Sequence[NetworkView]], List[Encoding]]
                  ) -> List[Encoding]:
        """One encoding per view: cached ones reused, the others encoded ``batch_size`` at once.

        Args:
            encode_batch: encodes a list of views, returning one (B=1) encoding per view.
        """
        found: Dict[int, Encoding] = {}
        missing = []
        for view in views:
            key = int(view.key)
            entry = self._entries.get(key)
            if entry is not None and entry[0] == view.shape:
                self._entries.move_to_end(key)
                found[key] = entry[1]
            else:
                missing.append(view)
        for start in range(0, len(missing), batch_size):
            chunk = missing[start:start + batch_size]
            for view, encoding in zip(chunk, encode_batch(chunk)):
                found[int(view.key)] = encoding
                self._remember(int(view.key), view.shape, encoding)
        return [found[int(view.key)] for view in views]

    def forget(self, keys: Sequence[int]) -> None:
        for key in keys:
            self._entries.pop(int(key), None)

    def keys(self) -> List[int]:
        """Keys currently cached, least recently used first."""
        return list(self._entries)

    def get(self, key: int) -> Optional[Encoding]:
        entry = self._entries.get(int(key))
        return None if entry is None else entry[1]

    def _remember(self, key: int, shape: Tuple[int, int], encoding: Encoding) -> None:
        self._entries[key] = (shape, encoding)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)


class CachedPairwiseBackend(Generic[Encoding]):
    """Base of the network backends: the ``PairwiseBackend`` protocol over two hooks.

    Subclasses set ``needs_pointmap`` and implement ``_encode(views) -> [encoding per view]``
    (incrementing ``encode_count``) and ``_decode(first, second) -> DecodedChunk``.

    Args:
        batch_pairs: pairs decoded per call (also frames encoded per call).
        cache_frames: frame encodings kept between calls (LRU; older ones are re-encoded).
    """

    needs_pointmap: bool

    def __init__(self, batch_pairs: int, cache_frames: int) -> None:
        if batch_pairs < 1 or cache_frames < 1:
            raise ConfigError(f'batch_pairs={batch_pairs} and cache_frames={cache_frames} '
                              f'must be >= 1')
        self.batch_pairs = int(batch_pairs)
        self.cache_frames = int(cache_frames)
        self._cache: 'EncodingCache[Encoding]' = EncodingCache(cache_frames)
        self.encode_count = 0  # frames encoded so far (for diagnostics and tests)

    def predict(self, views: Sequence[NetworkView], edges: np.ndarray) -> PairPredictions:
        """Point maps for each directed edge (i, j): both in camera i's frame.

        Every frame the edges use is encoded once (through the cache), then the edges are
        decoded ``batch_pairs`` at a time.

        Raises:
            InputError: no views, views of different sizes, bad edges, a missing or non-finite
                point map (Align3R).
        """
        edges = check_edges(views, edges)
        height, width = check_views(views, edges, self.needs_pointmap)
        if len(edges) == 0:
            return empty_predictions(height, width)
        used = sorted({int(v) for v in np.unique(edges)})
        by_index = dict(zip(used, self._cache.encodings([views[i] for i in used],
                                                        self.batch_pairs, self._encode)))
        outputs: List[List[np.ndarray]] = [[], [], [], []]
        for start in range(0, len(edges), self.batch_pairs):
            chunk = edges[start:start + self.batch_pairs]
            decoded = self._decode([by_index[int(i)] for i in chunk[:, 0]],
                                   [by_index[int(j)] for j in chunk[:, 1]])
            for store, value in zip(outputs, decoded):
                store.append(value)
        pts_i, conf_i, pts_j, conf_j = (np.concatenate(v).astype(np.float32, copy=False)
                                        for v in outputs)
        return PairPredictions(edges=edges, pts_i=pts_i, pts_j=pts_j, conf_i=conf_i,
                               conf_j=conf_j)

    def forget(self, keys: Sequence[int]) -> None:
        """Drop cached encodings of these frames."""
        self._cache.forget(keys)

    @property
    def cached_keys(self) -> List[int]:
        """Keys currently cached, least recently used first."""
        return self._cache.keys()

    def _encode(self, views: Sequence[NetworkView]) -> List[Encoding]:
        raise NotImplementedError

    def _decode(self, first: List[Encoding], second: List[Encoding]) -> DecodedChunk:
        raise NotImplementedError
