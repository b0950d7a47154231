"""Bounded local refinement of the keyframe window with the existing solver.

When a keyframe is added, the pairs between it and every other keyframe of the window are
predicted (both directions) and kept, subsampled to the pixel budget, in a small cache: the
window's pair graph is therefore complete and each pair is predicted once. The window is then
aligned by ``steps.solve.solve_frames`` (the Align3R objective, confidence weighting and
the dynamic re-solve) on the subsampled maps with:

* the oldest keyframe's pose held fixed (gauge) and the shared intrinsics imposed (the focal is
  fixed at the bootstrap: re-estimating it per window moved it ~1 % and doubled the ATE of the
  synthetic oracle sequence, since every tracked pose rests on it);
* the scale linked back to the stored keyframe depths, as the clip mode's keyframe stage does
  (robust median ratio on confident static pixels, world rescaled about the anchor's centre);
* no temporal smoothing (keyframes are not consecutive frames), so the fast solver runs its
  fixed number of block iterations and no Adam polish.

Bounded: at most ``live.window`` frames, ``window·(window−1)`` pairs of at most
``live.refine_pixels`` pixels each, fixed iterations. The cache holds only pairs of keyframes
in the window (subsampled numpy arrays; its size is bounded the same way).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from align3r_ros.align import FrameAnchor
from align3r_ros.backends.base import PairwiseBackend
from align3r_ros.config import Align3rConfig
from align3r_ros.engine.live.pairs import PairMaps, stack_predictions
from align3r_ros.engine.steps.solve import solve_frames
from align3r_ros.engine.steps.stages import depth_ratio
from align3r_ros.structures import PairPredictions

PairKey = Tuple[int, int]

#: Keyframes needed before the window is refined. With two, one is anchored and the other's
#: translation direction rests on a single short baseline: measured on the synthetic oracle
#: sequence, the solve turned it 1.9 deg -> 7.1 deg away from the truth, whereas from three on
#: it cut the window's ATE 4-6x. Two keyframes keep their tracked poses.
MIN_WINDOW = 3


def subsample_stride(hw: tuple, budget: int) -> int:
    """Smallest power-of-two stride dividing (h, w) with (h/s)(w/s) <= budget (h, w from the
    network are multiples of 16, so strides up to 16 always divide)."""
    h, w = hw
    stride = 1
    while (h // stride) * (w // stride) > budget and h % (2 * stride) == 0 \
            and w % (2 * stride) == 0:
        stride *= 2
    return stride


def subsample_K(K: np.ndarray, stride: int) -> np.ndarray:
    """K of the grid of pixels (s·u', s·v') (pixel centres at integers): all terms over s."""
    K_sub = np.asarray(K, np.float64).copy()
    K_sub[:2] /= stride
    return K_sub


@dataclass(frozen=True)
class RefineOutcome:
    """Refined window.

    Only poses are taken from the solve: the keyframes keep their fused depth (averaged over
    every frame that tracked against them), which the solve's scale link is tied to anyway.

    Attributes:
        T_world_cam: (n, 4, 4) float64 refined poses (index 0 unchanged), or None when the
            refinement was skipped (the tracked values stand).
        status: '' or why the solve failed.
    """

    T_world_cam: Optional[np.ndarray]
    status: str


class PairCache:
    """Subsampled pair maps between keyframes, keyed by (key_i, key_j); bounded by
    :meth:`keep_only`."""

    def __init__(self) -> None:
        self._pairs: Dict[PairKey, PairMaps] = {}

    def __len__(self) -> int:
        return len(self._pairs)

    def add(self, keys: Sequence[int], predictions: PairPredictions, stride: int) -> None:
        for e, (i, j) in enumerate(predictions.edges):
            self._pairs[(int(keys[i]), int(keys[j]))] = \
                PairMaps.of_edge(predictions, e).subsampled(stride)

    def keep_only(self, keys: Sequence[int]) -> None:
        alive = set(int(k) for k in keys)
        self._pairs = {k: v for k, v in self._pairs.items() if k[0] in alive and k[1] in alive}

    def clear(self) -> None:
        self._pairs.clear()

    def predictions(self, keys: Sequence[int]) -> Optional[PairPredictions]:
        """Every cached pair among ``keys`` as predictions indexed into ``keys``."""
        index = {int(k): n for n, k in enumerate(keys)}
        edges, maps = [], []
        for (ki, kj), value in self._pairs.items():
            if ki in index and kj in index:
                edges.append((index[ki], index[kj]))
                maps.append(value)
        if not edges:
            return None
        return stack_predictions(edges, maps)


def predict_new_pairs(views: Sequence, backend: PairwiseBackend, cache: PairCache,
                      stride: int) -> float:
    """Predict (new, k) and (k, new) for the last view against every other; returns seconds."""
    n = len(views)
    pairs: List[tuple] = []
    for k in range(n - 1):
        pairs += [(n - 1, k), (k, n - 1)]
    if not pairs:
        return 0.0
    start = time.perf_counter()
    predictions = backend.predict(list(views), np.asarray(pairs, np.int64))
    cache.add([v.key for v in views], predictions, stride)
    return time.perf_counter() - start


def refine_window(keys: Sequence[int], T_world_cam: np.ndarray, depth_sub: np.ndarray,
                  K: np.ndarray, stride: int, cache: PairCache,
                  config: Align3rConfig) -> RefineOutcome:
    """Align the window's cached pairs with frame 0's pose fixed (see module docstring).

    Args:
        keys: (n,) keyframe keys, oldest first (the last one is the new keyframe).
        T_world_cam: (n, 4, 4) current poses.
        depth_sub: (n, h', w') current depths at the subsampled grid (NaN where invalid).
        K: (3, 3) shared intrinsics at the network resolution.
        stride: subsampling stride of the cached maps.
    """
    n = len(keys)
    predictions = cache.predictions(keys)
    if predictions is None or n < MIN_WINDOW:
        return RefineOutcome(None, '')
    K_sub = subsample_K(K, stride)
    align_cfg = dataclasses.replace(config.align, temporal_weight=0.0)
    solve_cfg = dataclasses.replace(config, align=align_cfg)
    anchors = [FrameAnchor(index=0, T_world_cam=np.asarray(T_world_cam[0], np.float64))]
    outcome = solve_frames(predictions, n, depth_sub.shape[1:], solve_cfg,
                           K_known=np.repeat(K_sub[None], n, axis=0), anchors=anchors)
    if outcome.result is None:
        return RefineOutcome(None, f'refinement skipped: {outcome.status}')
    result = outcome.result
    confidence = np.where(outcome.dynamic_mask, 0.0, result.confidence)
    factor = depth_ratio(depth_sub[:n - 1], np.asarray(result.depth[:n - 1], np.float64),
                         confidence[:n - 1], config.align.min_conf_thr)
    if not (np.isfinite(factor) and factor > 0):
        factor = 1.0
    centre = np.asarray(T_world_cam[0], np.float64)[:3, 3]
    T = np.asarray(result.T_world_cam, np.float64).copy()
    T[:, :3, 3] = centre + factor * (T[:, :3, 3] - centre)
    T[0] = np.asarray(T_world_cam[0], np.float64)
    if not np.isfinite(T).all():
        return RefineOutcome(None, 'refinement skipped: non-finite poses')
    return RefineOutcome(T, '')
