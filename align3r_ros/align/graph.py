"""Pair graphs as integer edge tensors (spec §4.1, the reference ``make_pairs``).

An edge (i, j) is a directed pair: the network predicts view i's and view j's points in camera
i's frame. Graphs are (E, 2) int64 arrays; the row order defines every per-edge index.
"""

from __future__ import annotations

import numpy as np

from align3r_ros.config import GraphKind
from align3r_ros.errors import ConfigError


def _as_array(pairs: list) -> np.ndarray:
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def _symmetrise(pairs: list, symmetric: bool) -> np.ndarray:
    if symmetric:
        pairs = pairs + [(j, i) for i, j in pairs]
    return _as_array(pairs)


def complete_edges(num_frames: int, symmetric: bool) -> np.ndarray:
    """All pairs, in the reference order: (i, j) for i = 0..N−1, j < i; then reversed copies.

    Args:
        num_frames: N >= 1.
        symmetric: append (j, i) for every (i, j).

    Returns:
        (E, 2) int64 with E = N(N−1)/2, doubled when symmetric.
    """
    if num_frames < 1:
        raise ConfigError(f'complete_edges: num_frames must be >= 1, got {num_frames}')
    pairs = [(i, j) for i in range(num_frames) for j in range(i)]
    return _symmetrise(pairs, symmetric)


def make_pair_edges(num_frames: int, kind: GraphKind, window: int, cyclic: bool,
                    symmetric: bool) -> np.ndarray:
    """Pair graph of a clip, reproducing the reference ``make_pairs`` (spec §4.1).

    * SLIDING_WINDOW (``swin-K``): for every i, partners i+1 … i+K;
    * STRIDE_WINDOW (``swinstride-K``): partners i+1, i+3, …, i+2K−1;
    * COMPLETE: every pair (see :func:`complete_edges`).

    Window pairs wrap around the end when ``cyclic`` and are dropped past the last frame
    otherwise; pairs are de-duplicated as unordered (i < j), in the iteration order of the
    reference's Python set (deterministic for small integer tuples), then symmetrised. Unlike
    the reference, self-pairs (a cyclic window wrapping onto its own frame) are dropped.

    Returns:
        (E, 2) int64 edges.
    """
    kind = GraphKind(kind)
    if kind == GraphKind.COMPLETE:
        return complete_edges(num_frames, symmetric)
    if num_frames < 1:
        raise ConfigError(f'make_pair_edges: num_frames must be >= 1, got {num_frames}')
    if window < 1:
        raise ConfigError(f'make_pair_edges: window must be >= 1, got {window}')
    stride = 2 if kind == GraphKind.STRIDE_WINDOW else 1
    pair_set = set()
    for i in range(num_frames):
        for offset in range(1, stride * window + 1, stride):
            k = i + offset
            if cyclic:
                k = k % num_frames
            if k >= num_frames or k == i:
                continue
            pair_set.add((i, k) if i < k else (k, i))
    # Iterating the set (not sorting) keeps the reference's edge order.
    return _symmetrise(list(pair_set), symmetric)
