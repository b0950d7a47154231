"""Starting a live map from one frame (the INIT and LOST states of the aligner).

The frame's self-pair (f, f) gives two point maps of the same frame in its own camera: where
they disagree is a first dynamic mask, their mean is the map (after a loss the frame's map from
the pair that lost tracking is used alone, without a mask). The first keyframe's depth is the
map's z on confident pixels; the focal comes from the map unless known or already shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from align3r_ros.align.focal import estimate_focal
from align3r_ros.config import Align3rConfig
from align3r_ros.engine.live.keyframes import dynamic_from_disagreement
from align3r_ros.engine.live.pairs import PairMaps
from align3r_ros.geometry.camera import default_principal_point, intrinsics_matrix


@dataclass(frozen=True)
class MapStart:
    """A frame's own map, ready to be its map's first keyframe (tensors (h, w), its device).

    Attributes:
        points: (h, w, 3) the frame's points in its camera, pair units.
        depth: float32 z of ``points``, NaN where not confident.
        confidence: float32 the lower of the two maps' confidences.
        dynamic: bool pixels where the two maps disagree.
        confident: bool finite, positive, confident pixels.
        failure: '' or why no map can start here (too few confident static pixels).
    """

    points: torch.Tensor
    depth: torch.Tensor
    confidence: torch.Tensor
    dynamic: torch.Tensor
    confident: torch.Tensor
    failure: str = ''

    @property
    def usable(self) -> torch.Tensor:
        return self.confident & ~self.dynamic


def map_start(pair: PairMaps, self_pair: bool, config: Align3rConfig) -> MapStart:
    """The map of a frame from ``pair``: its self-pair (``self_pair``: both maps, a dynamic
    mask where they disagree) or any pair (f, k) (its f map alone)."""
    pts, conf = pair.pts_i, pair.conf_i
    other, conf_other = (pair.pts_j, pair.conf_j) if self_pair else (pts, conf)
    dynamic = torch.zeros(conf.shape, dtype=torch.bool, device=conf.device)
    if config.dynamic.enabled and self_pair:
        dynamic = dynamic_from_disagreement(pts, other, torch.minimum(conf, conf_other),
                                            config.dynamic.threshold)
    pts = 0.5 * (pts + other)
    conf = torch.minimum(conf, conf_other)
    z = pts[..., 2]
    confident = torch.isfinite(pts).all(-1) & (z > 0) & (conf >= config.align.min_conf_thr)
    depth = torch.where(confident, z, torch.full_like(z, float('nan'))).float()
    static = int((confident & ~dynamic).sum())
    failure = ''
    if static < config.live.min_pixels:  # e.g. the self-pair's two maps disagree everywhere
        failure = (f'not initialised: too few confident static pixels ({static} < '
                   f'{config.live.min_pixels}; {int(confident.sum())} confident, '
                   f'{int(dynamic.sum())} dynamic)')
    return MapStart(points=pts, depth=depth, confidence=conf.float(), dynamic=dynamic,
                    confident=confident, failure=failure)


def at_median(start: MapStart, target_median: Optional[float]) -> torch.Tensor:
    """The start's depth scaled so its median is ``target_median`` (continuity after a loss;
    unchanged when None or undefined)."""
    if target_median is None:
        return start.depth
    median = float(start.depth[start.confident].median())
    if median > 0 and np.isfinite(target_median):
        return start.depth * (target_median / median)
    return start.depth


def focal_intrinsics(start: MapStart, hw: tuple) -> np.ndarray:
    """(3, 3) K with the focal estimated from the start's usable points and the default
    principal point (``max(h, w)`` when the estimate fails)."""
    h, w = hw
    cx, cy = default_principal_point(h, w)
    flat = torch.where(start.usable[..., None], start.points, torch.zeros_like(start.points))
    focal = estimate_focal(flat.reshape(-1, 3).cpu().numpy(), (h, w), (cx, cy))
    if not (np.isfinite(focal) and focal > 0):
        focal = float(max(h, w))
    return intrinsics_matrix(focal, focal, cx, cy)
