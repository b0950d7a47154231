"""One frame tracked against the keyframe window: what was found, not what to do about it.

:func:`track_frame` pairs the frame f with the ``live.track_keyframes`` keyframes it most
likely sees, fits its pose and per-pair scales (:func:`~.tracking.fit_pose`), takes its depth
from its own point maps at those scales, finds its dynamic pixels where two estimates of its
points disagree (a second keyframe, or the reverse pair (k, f) when only one keyframe is
tracked) and measures it against the keyframes (covisibility, parallax). It changes nothing:
the :class:`TrackOutcome` goes back to the aligner, whose state machine decides (lost,
keyframe, plain frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Sequence, Tuple

import numpy as np
import torch

from align3r_ros.config import Align3rConfig
from align3r_ros.engine.live.fusion import reverse_pair_points
from align3r_ros.engine.live.keyframes import (LiveKeyframe, covisibility,
                                               dynamic_from_disagreement, parallax)
from align3r_ros.engine.live.pairs import PairMaps
from align3r_ros.engine.live.tracking import (TrackFit, TrackInput, fit_pose, frame_depth,
                                              sample_pixels)
from align3r_ros.engine.live.window import KeyframeWindow
from align3r_ros.engine.steps.frame_prep import PreparedFrame
from align3r_ros.geometry.torch_ops import unproject_depth_map

#: Pixels of f used for covisibility.
COVIS_PIXELS = 2048

#: Predicts pairs (i, j) over views as device tensors (the aligner times the backend).
PairPredictor = Callable[[Sequence, Sequence[Tuple[int, int]]], List[PairMaps]]


@dataclass(frozen=True)
class TrackOutcome:
    """Frame f tracked against the window (the aligner acts on it).

    Attributes:
        T_world_cam: (4, 4) float64 fitted camera-to-world pose (alignment units).
        depth: (h, w) float32 f's depth at the fitted scales (NaN where no pair has one).
        confidence: (h, w) float32 its confidence.
        valid: (h, w) bool finite, positive and confident depth.
        dynamic: (h, w) bool dynamic pixels.
        fit: the pose fit (scales, inlier fraction, residual).
        tracked: the keyframes f was paired with; ``edges`` their pairs' inputs, same order.
        overlaps: f's covisibility with each tracked keyframe.
        reference: index into ``tracked`` of the keyframe f sees best.
        parallax: f's baseline to the reference keyframe over its median depth.
        own: the pair (f, first tracked keyframe): f's own point map re-initialises the map
            when tracking is lost.
        failure: '' or why f could not be tracked (the other fields are then partial).
    """

    T_world_cam: torch.Tensor
    depth: torch.Tensor
    confidence: torch.Tensor
    valid: torch.Tensor
    dynamic: torch.Tensor
    fit: TrackFit
    tracked: Tuple[LiveKeyframe, ...]
    edges: Tuple[TrackInput, ...]
    overlaps: Tuple[float, ...]
    reference: int
    parallax: float
    own: PairMaps
    failure: str = ''

    @property
    def overlap(self) -> float:
        """Covisibility with the reference keyframe."""
        return self.overlaps[self.reference] if self.overlaps else 0.0

    @property
    def inliers(self) -> float:
        """The fit's inlier fraction."""
        return self.fit.inlier_fraction


def track_frame(prepared: PreparedFrame, window: KeyframeWindow, predict: PairPredictor,
                config: Align3rConfig, generator: torch.Generator) -> TrackOutcome:
    """Track ``prepared`` against ``window`` (module docstring); changes neither.

    Raises:
        ValueError: too few confident keyframe pixels for the fit (tracking failed).
    """
    live = config.live
    tracked = window.ranked(live.track_keyframes)
    views = [prepared.view] + [kf.prepared.view for kf in tracked]
    pairs = [(0, n + 1) for n in range(len(tracked))]
    reverse = len(tracked) == 1 and config.dynamic.enabled
    if reverse:
        pairs.append((1, 0))
    maps = predict(views, pairs)
    K = window.K_tensor()
    edges = [TrackInput(pts_i=m.pts_i, conf_i=m.conf_i, pts_j=m.pts_j, conf_j=m.conf_j,
                        X_world=kf.world_points(K).to(m.pts_j.dtype),
                        usable=kf.usable(config.align.min_conf_thr))
             for m, kf in zip(maps, tracked)]
    fit = fit_pose(edges, live.track_pixels, live.track_iterations, live.inlier_threshold,
                   live.min_pixels, float(np.log(config.align.min_conf_thr)), generator)
    T = fit.T_world_cam()
    depth, conf, points = frame_depth(edges, fit.scales)
    dynamic = torch.zeros(conf.shape, dtype=torch.bool, device=conf.device)
    if config.dynamic.enabled:
        second = points[1] if not reverse else reverse_pair_points(
            maps[-1].pts_i, maps[-1].pts_j, tracked[0], fit, config.align.min_conf_thr)
        if second is not None:
            dynamic = dynamic_from_disagreement(points[0], second, conf,
                                                config.dynamic.threshold)
    valid = torch.isfinite(depth) & (depth > 0) & (conf >= config.align.min_conf_thr)
    partial = dict(T_world_cam=T, depth=depth, confidence=conf, valid=valid, dynamic=dynamic,
                   fit=fit, tracked=tuple(tracked), edges=tuple(edges), own=maps[0])
    if int(valid.sum()) < live.min_pixels:
        return TrackOutcome(**partial, overlaps=(), reference=0, parallax=float('nan'),
                            failure='too few confident pixels in the frame')
    world = _sample_world(depth, valid & ~dynamic, K, T, generator)
    overlaps = tuple(covisibility(world, kf, K, prepared.network_hw) for kf in tracked)
    best = int(np.argmax(overlaps))
    median_depth = float(depth[valid].median())
    return TrackOutcome(**partial, overlaps=overlaps, reference=best,
                        parallax=parallax(T, tracked[best], median_depth))


def _sample_world(depth: torch.Tensor, mask: torch.Tensor, K: torch.Tensor, T: torch.Tensor,
                  generator: torch.Generator) -> torch.Tensor:
    """(P, 3) float64 world points of at most ``COVIS_PIXELS`` pixels of ``mask``."""
    index = sample_pixels(mask, COVIS_PIXELS, generator)
    cam = unproject_depth_map(depth, K).reshape(-1, 3)[index].double()
    return cam @ T[:3, :3].T + T[:3, 3]
