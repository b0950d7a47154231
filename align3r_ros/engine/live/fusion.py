"""Fusion between a tracked frame and the keyframes (live mode), on the aligner's device.

* :func:`fold_into_keyframes`: every tracked frame's pair (f, k) predicts keyframe k's points
  too; moved into k's camera with the fitted pose and scale, they join k's running depth
  average and vote on its dynamic mask (:func:`fuse_observation`). A keyframe's depth
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
import torch.nn.functional as F

from align3r_ros.engine.live.keyframes import LiveKeyframe, dynamic_from_disagreement
from align3r_ros.engine.live.tracking import TrackFit, TrackInput
from align3r_ros.geometry.torch_ops import project, unproject_depth_map


def fuse_observation(keyframe: LiveKeyframe, cam_points: torch.Tensor, conf: torch.Tensor,
                     threshold: float) -> LiveKeyframe:
    """Fold a tracked frame's estimate of the keyframe's points into the keyframe.

    ``cam_points`` (h, w, 3) are the keyframe's pixels as the new pair predicts them, moved into
    the keyframe's camera with the fitted pose and scale. Where they agree with the keyframe's
    (relative 3-D disagreement <= ``threshold``) their depth joins a running log-confidence-
    weighted mean (the keyframe's depth noise falls as frames see it); the disagreement also
    votes on the keyframe's dynamic mask (dynamic when most observations disagree).
    """
    stored = camera_points_from_depth_like(keyframe.depth, cam_points)
    mask = dynamic_from_disagreement(cam_points, stored, conf, threshold)
    z = cam_points[..., 2]
    w = torch.log(conf.clamp_min(1.0))
    ok = torch.isfinite(z) & (z > 0) & torch.isfinite(keyframe.depth) & ~mask
    w = torch.where(ok, w, torch.zeros_like(w))
    total = keyframe.weight + w
    depth = torch.where(ok, (keyframe.weight * keyframe.depth + w * torch.where(ok, z, 0.0))
                        / total.clamp_min(1e-30), keyframe.depth)
    n = keyframe.observations + 1
    votes = keyframe.votes + (mask.float() - keyframe.votes) / (n + 1)
    return LiveKeyframe(prepared=keyframe.prepared, T_world_cam=keyframe.T_world_cam,
                        depth=depth, confidence=torch.maximum(keyframe.confidence, conf),
                        dynamic=votes > 0.5, weight=total, votes=votes, observations=n)


def camera_points_from_depth_like(depth: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(h, w, 3): ``points`` rescaled along their own rays to the z of ``depth``."""
    z = points[..., 2:3]
    return points * (depth[..., None] / torch.where(z.abs() > 1e-12, z, torch.ones_like(z)))


def reprojected_depth(depth: torch.Tensor, T_world_cam: torch.Tensor, keyframe: LiveKeyframe,
                      K: torch.Tensor, threshold: float) -> tuple:
    """A keyframe's fused depth seen from a frame: (estimate, weight), both (h, w) float32.

    Each pixel's point (``depth`` along its ray, pose ``T_world_cam``) is projected into the
    keyframe, whose fused depth is sampled there (bilinear over valid pixels only). Where the
    two agree within ``threshold`` (relative), the keyframe's depth is carried back along the
    pixel's ray: estimate = depth · z_keyframe / z_projected, weighted by the keyframe's fused
    weight; elsewhere (occlusion, motion, outside the keyframe) the weight is 0.
    """
    h, w = depth.shape
    cam = unproject_depth_map(depth, K)
    T = T_world_cam.to(cam.dtype)
    Tk = keyframe.T_world_cam.to(cam.dtype)
    u, v, z = project(((cam @ T[:3, :3].T + T[:3, 3]) - Tk[:3, 3]) @ Tk[:3, :3], K)
    zs = torch.where(z > 1e-9, z, torch.ones_like(z))
    grid = torch.stack([2.0 * u / max(w - 1, 1) - 1.0, 2.0 * v / max(h - 1, 1) - 1.0], -1)
    valid = torch.isfinite(keyframe.depth) & (keyframe.depth > 0) & ~keyframe.dynamic
    stack = torch.stack([torch.where(valid, keyframe.depth, 0.0) * valid,
                         torch.where(valid, keyframe.weight, 0.0), valid.to(cam.dtype)])
    grid = torch.nan_to_num(grid, nan=-2.0, posinf=-2.0, neginf=-2.0)
    sampled = F.grid_sample(stack[None].to(cam.dtype), grid[None].to(cam.dtype),
                            mode='bilinear', padding_mode='zeros', align_corners=True)[0]
    coverage = sampled[2]
    full = coverage > 1.0 - 1e-3
    z_kf = sampled[0] / coverage.clamp_min(1e-6)
    agree = full & (z > 1e-9) & torch.isfinite(depth) & \
        ((z_kf - z).abs() <= threshold * z)
    estimate = torch.where(agree, depth * z_kf / zs, torch.zeros_like(depth))
    weight = torch.where(agree, sampled[1], torch.zeros_like(depth))
    return estimate.float(), weight.float()


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
