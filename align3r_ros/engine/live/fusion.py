"""Fusion between a tracked frame and the keyframes (live mode), on the aligner's device.

* :func:`fold_into_keyframes`: every tracked frame's pair (f, k) predicts keyframe k's points
  too; moved into k's camera with the fitted pose and scale, they join k's running depth
  average and vote on its dynamic mask (``keyframes.fuse_observation``). A keyframe's depth
  noise therefore falls with every frame that sees it.
* :func:`fused_frame_depth`: f's own depth (its point maps at the fitted scales) averaged with
  every held keyframe's fused depth reprojected into f, where they agree (static pixels only).
  Measured on the synthetic oracle sequence: Abs Rel 0.0144 from f's own maps alone, 0.0056
  with this fusion (clip mode: 0.0067).
* :func:`reverse_pair_points`: with a single keyframe, the reverse pair (k, f) gives a second
  estimate of f's points (for the dynamic mask, which needs two opinions).
"""

from __future__ import annotations

from typing import Dict, Iterable, Optional, Sequence

import torch

from align3r_ros.engine.live.keyframes import LiveKeyframe, fuse_observation, reprojected_depth
from align3r_ros.engine.live.tracking import TrackFit, TrackInput


def fold_into_keyframes(chosen: Sequence[LiveKeyframe], inputs: Sequence[TrackInput],
                        fit: TrackFit, threshold: float) -> Dict[int, LiveKeyframe]:
    """The tracked keyframes with this frame's view of them folded in, by key."""
    fused = {}
    for kf, edge, scale in zip(chosen, inputs, fit.scales):
        # keyframe-from-frame in float64 (3x3), applied to the map in its own float32
        T = kf.T_world_cam.double()
        R = T[:3, :3].T @ fit.R.double() * float(scale)
        t = T[:3, :3].T @ (fit.c.double() - T[:3, 3])
        cam = edge.pts_j @ R.T.to(edge.pts_j.dtype) + t.to(edge.pts_j.dtype)
        fused[kf.key] = fuse_observation(kf, cam, edge.conf_j.float(), threshold)
    return fused


def fused_frame_depth(depth: torch.Tensor, inputs: Sequence[TrackInput],
                      dynamic: torch.Tensor, T_world_cam: torch.Tensor, K: torch.Tensor,
                      keyframes: Iterable[LiveKeyframe], threshold: float) -> torch.Tensor:
    """(h, w) f's depth averaged with the keyframes' reprojected fused depth (see module doc).

    Weights: f's own log-confidences summed over its edges; each keyframe's fused weight
    where it agrees within ``threshold`` (relative). Every held keyframe takes part, not only
    the tracked ones (on 7-Scenes at long side 128: Abs Rel 0.0086 -> 0.0083).
    """
    ok = torch.isfinite(depth) & (depth > 0)
    own_w = sum(torch.log(e.conf_i.float().clamp_min(1.0)) for e in inputs)
    num = torch.where(ok, depth, 0.0) * own_w
    den = torch.where(ok, own_w, torch.zeros_like(own_w))
    for kf in keyframes:
        estimate, weight = reprojected_depth(depth, T_world_cam, kf, K, threshold)
        weight = torch.where(dynamic | ~ok, torch.zeros_like(weight), weight)
        num = num + estimate * weight
        den = den + weight
    return torch.where(ok, num / den.clamp_min(1e-30), depth)


def reverse_pair_points(kf_pts: torch.Tensor, f_pts: torch.Tensor, keyframe: LiveKeyframe,
                        fit: TrackFit, min_conf: float) -> Optional[torch.Tensor]:
    """f's camera-frame points from the reverse pair (k, f), or None without support.

    Args:
        kf_pts: (h, w, 3) k's points in k's camera (pair units): their depth against k's
            stored depth fixes the pair's scale.
        f_pts: (h, w, 3) f's points in k's camera (pair units): through k's pose and f's fitted
            pose they land in f's camera.
    """
    usable = keyframe.usable(min_conf) & torch.isfinite(kf_pts).all(-1) & (kf_pts[..., 2] > 0)
    if int(usable.sum()) < 16:
        return None
    ratio = (keyframe.depth[usable] / kf_pts[..., 2][usable]).median()
    T_kf = keyframe.T_world_cam.to(f_pts.dtype)
    world = (ratio * f_pts) @ T_kf[:3, :3].T + T_kf[:3, 3]
    return (world - fit.c.to(f_pts.dtype)) @ fit.R.to(f_pts.dtype)
