"""Oracle pairwise backend: ground-truth depth and poses turned into network-style predictions.

It makes every layer above the network testable (and measures the alignment's error floor on a
user's own RGB-D data): for an edge (i, j) it unprojects the ground-truth depth of views i and j
with their intrinsics, expresses both in camera i's frame, and then degrades them the way a
pairwise network's output is degraded:

* relative noise: every coordinate gets Gaussian noise of std ``noise`` x the point's distance;
* a random per-pair scale, log-uniform in ``[scale_min, scale_max]`` (a network's pair output
  has an arbitrary scale);
* confidence ``1 + 10 exp(-(b / 0.05)^2)`` with ``b`` the relative second difference of the
  depth (low at depth edges, high on any plane), and exactly 1 (zero log-weight) where the
  depth is invalid;
* on ground-truth dynamic pixels, a displacement of ``dynamic_corruption`` x the distance along a
  random direction drawn per (edge, view), so different pairs disagree about moving objects as
  they do for a real network.

The randomness is seeded by ``(seed, key_i, key_j)``: the same edge always gets the same
prediction, whatever else is in the request. The ground truth arrives on ``NetworkView.truth``
(the only consumer of that field).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from align3r_ros.backends.base import NetworkView, ViewTruth
from align3r_ros.config import Align3rConfig, OracleConfig
from align3r_ros.errors import ConfigError, InputError
from align3r_ros.geometry.camera import unproject_depth
from align3r_ros.geometry.se3 import relative_transform, transform_points
from align3r_ros.structures import PairPredictions

_KEY_MOD = 2**63


class OracleBackend:
    """``PairwiseBackend`` built from ground truth; stateless (``forget`` is a no-op)."""

    needs_pointmap = False

    def __init__(self, config: OracleConfig) -> None:
        if config.scale_min > config.scale_max:
            raise ConfigError(f'oracle.scale_min={config.scale_min} > '
                              f'oracle.scale_max={config.scale_max}')
        self.config = config

    @classmethod
    def from_config(cls, config: Align3rConfig) -> 'OracleBackend':
        return cls(config.oracle)

    def forget(self, keys: Sequence[int]) -> None:
        """Nothing is cached."""

    def predict(self, views: Sequence[NetworkView], edges: np.ndarray) -> PairPredictions:
        """Noisy, rescaled ground-truth point maps for each directed edge (see module doc).

        Raises:
            InputError: views of different sizes, a view without ground truth or K, bad edges.
        """
        edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        if len(views) == 0 or edges.size == 0:
            raise InputError(f'oracle needs views and edges, got {len(views)} views and '
                             f'{len(edges)} edges')
        if edges.min() < 0 or edges.max() >= len(views):
            raise InputError(f'edge index out of range for {len(views)} views: '
                             f'[{edges.min()}, {edges.max()}]')
        shape = views[0].shape
        for view in views:
            if view.shape != shape:
                raise InputError(f'views of one request must share a size: {view.shape} vs '
                                 f'{shape} (key {view.key})')
        used = np.unique(edges)
        cam_points = {int(n): _camera_points(views[n]) for n in used}
        E = len(edges)
        h, w = shape
        pts_i = np.empty((E, h, w, 3), np.float32)
        pts_j = np.empty((E, h, w, 3), np.float32)
        conf_i = np.empty((E, h, w), np.float32)
        conf_j = np.empty((E, h, w), np.float32)
        for e, (i, j) in enumerate(edges):
            view_i, view_j = views[i], views[j]
            rng = np.random.default_rng(
                [self.config.seed, int(view_i.key) % _KEY_MOD, int(view_j.key) % _KEY_MOD])
            T_cami_camj = relative_transform(view_i.truth.T_world_cam, view_j.truth.T_world_cam)
            points_i, conf_i[e] = cam_points[int(i)]
            points_j, conf_j[e] = cam_points[int(j)]
            points_j = transform_points(T_cami_camj, points_j)
            scale = np.exp(rng.uniform(np.log(self.config.scale_min),
                                       np.log(self.config.scale_max)))
            pts_i[e] = scale * self._degrade(points_i, view_i.truth.dynamic_mask, rng)
            pts_j[e] = scale * self._degrade(points_j, view_j.truth.dynamic_mask, rng)
        return PairPredictions(edges=edges.copy(), pts_i=pts_i, pts_j=pts_j, conf_i=conf_i,
                               conf_j=conf_j)

    def _degrade(self, points: np.ndarray, dynamic_mask, rng: np.random.Generator) -> np.ndarray:
        """Noise (and the dynamic corruption) on (h, w, 3) points in camera i's frame."""
        distance = np.linalg.norm(points, axis=-1, keepdims=True)
        noisy = points + self.config.noise * distance * rng.standard_normal(points.shape)
        direction = rng.standard_normal(3)
        direction /= max(np.linalg.norm(direction), 1e-12)
        if dynamic_mask is not None and self.config.dynamic_corruption > 0:
            mask = np.asarray(dynamic_mask, dtype=bool)
            shift = self.config.dynamic_corruption * distance[mask] * direction
            noisy[mask] += shift
        return noisy


def _camera_points(view: NetworkView):
    """(h, w, 3) ground-truth points in the view's camera frame and (h, w) confidence."""
    truth = view.truth if view.truth is not None else ViewTruth()
    missing = [name for name, value in (('ground-truth depth', truth.depth),
                                        ('ground-truth pose', truth.T_world_cam),
                                        ('intrinsics', view.K)) if value is None]
    if missing:
        raise InputError(f'the oracle backend needs ground-truth depth, pose and intrinsics on '
                         f'every frame; frame key {view.key} has no {" and no ".join(missing)} '
                         '(align3r-replay: give --gt-depth-topic and --gt-pose-topic (or '
                         '--gt-tf-frame), and a camera_info topic)')
    depth = np.asarray(truth.depth, dtype=np.float64)
    valid = np.isfinite(depth) & (depth > 0)
    if not np.any(valid):
        raise InputError(f'view key {view.key} has no valid ground-truth depth')
    filled = np.where(valid, depth, np.median(depth[valid]))
    points = unproject_depth(filled, view.K)
    # second differences: zero on planes (however slanted), large at depth discontinuities
    bend = np.zeros_like(filled)
    bend[:, 1:-1] = np.abs(filled[:, :-2] - 2.0 * filled[:, 1:-1] + filled[:, 2:])
    bend[1:-1, :] = np.maximum(bend[1:-1, :], np.abs(filled[:-2] - 2.0 * filled[1:-1]
                                                     + filled[2:]))
    confidence = 1.0 + 10.0 * np.exp(-(bend / filled / 0.05) ** 2)
    return points, np.where(valid, confidence, 1.0).astype(np.float32)
