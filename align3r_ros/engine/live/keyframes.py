"""Keyframe state, covisibility and the content-based keyframe rule of live mode.

The rule, evaluated on every tracked frame f against its reference keyframe r (the tracked
keyframe f sees best):

* covisibility: the fraction of f's confident pixels (a fixed subsample) whose world points
  project inside r's image in front of r's camera;
* parallax: the baseline ‖c_f − c_r‖ over f's median depth.

f becomes a keyframe when covisibility < ``stream.keyframe_overlap`` (the view has moved on) or
parallax > ``stream.keyframe_parallax`` (enough baseline for new geometry). A static camera
(or a repeated frame) keeps covisibility ~1 and parallax ~0: no keyframe. Tracking is lost when
covisibility < ``stream.lost_overlap`` or the fit's inlier fraction < ``stream.lost_inliers``
(the confidence/agreement gate: a frame the network cannot relate to any keyframe).

Tensors live on the aligner's device; shapes are at network resolution (h, w).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from align3r_ros.engine.steps.frame_prep import PreparedFrame
from align3r_ros.structures import KeyframePose


@dataclass(frozen=True)
class LiveKeyframe:
    """A keyframe held fixed by tracking (replaced, not mutated, by a window refinement).

    Attributes:
        prepared: the frame.
        T_world_cam: (4, 4) float64 camera-to-world, alignment units.
        depth: (h, w) float32 depth, alignment units, NaN where invalid.
        confidence: (h, w) float32 aligned confidence.
        dynamic: (h, w) bool dynamic mask.
        weight: (h, w) float32 fused weight of ``depth`` (sum of log-confidences).
        votes: (h, w) float32 fraction of observations that called the pixel dynamic.
        observations: tracked frames fused into this keyframe.
    """

    prepared: PreparedFrame
    T_world_cam: torch.Tensor
    depth: torch.Tensor
    confidence: torch.Tensor
    dynamic: torch.Tensor
    weight: torch.Tensor
    votes: torch.Tensor
    observations: int = 0

    @property
    def key(self) -> int:
        return int(self.prepared.view.key)

    def usable(self, min_conf: float) -> torch.Tensor:
        """(h, w) bool: finite positive depth, confident, static."""
        return (torch.isfinite(self.depth) & (self.depth > 0)
                & (self.confidence >= min_conf) & ~self.dynamic)

    def world_points(self, K: torch.Tensor) -> torch.Tensor:
        """(h, w, 3) float32 world points of the depth with intrinsics K (3, 3)."""
        cam = camera_points(self.depth, K)
        T = self.T_world_cam.to(cam.dtype)
        return cam @ T[:3, :3].T + T[:3, 3]


def new_keyframe(prepared: PreparedFrame, T_world_cam: torch.Tensor, depth: torch.Tensor,
                 confidence: torch.Tensor, dynamic: torch.Tensor) -> LiveKeyframe:
    """A keyframe with its own estimate as the only observation."""
    ok = torch.isfinite(depth) & (depth > 0)
    weight = torch.where(ok, torch.log(confidence.clamp_min(1.0)) + 1e-6,
                         torch.zeros_like(depth))
    return LiveKeyframe(prepared=prepared, T_world_cam=T_world_cam, depth=depth,
                        confidence=confidence, dynamic=dynamic, weight=weight,
                        votes=dynamic.float())


def fuse_observation(keyframe: LiveKeyframe, cam_points: torch.Tensor, conf: torch.Tensor,
                     threshold: float) -> LiveKeyframe:
    """Fold a tracked frame's estimate of the keyframe's points into the keyframe.

    ``cam_points`` (h, w, 3) are the keyframe's pixels as the new pair predicts them, moved into
    the keyframe's camera with the fitted pose and scale. Where they agree with the keyframe's
    (relative 3-D disagreement <= ``threshold``) their depth joins a running log-confidence-
    weighted mean (the keyframe's depth noise falls as frames see it); the disagreement also
    votes on the keyframe's dynamic mask (dynamic when most observations disagree).
    """
    K_free = camera_points_from_depth_like(keyframe.depth, cam_points)
    mask = dynamic_from_disagreement(cam_points, K_free, conf, threshold)
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


def camera_points(depth: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """(h, w, 3) camera-frame points of an (h, w) depth map (pixel centres at integers)."""
    h, w = depth.shape
    K = K.to(depth.dtype)
    v, u = torch.meshgrid(torch.arange(h, device=depth.device, dtype=depth.dtype),
                          torch.arange(w, device=depth.device, dtype=depth.dtype),
                          indexing='ij')
    x = (u - K[0, 2]) / K[0, 0]
    y = (v - K[1, 2]) / K[1, 1]
    return torch.stack([x * depth, y * depth, depth], dim=-1)


def covisibility(points_world: torch.Tensor, keyframe: LiveKeyframe, K: torch.Tensor,
                 hw: tuple) -> float:
    """Fraction of (P, 3) world points that land inside ``keyframe``'s image, in front of it."""
    if points_world.shape[0] == 0:
        return 0.0
    T = keyframe.T_world_cam.to(points_world.dtype)
    cam = (points_world - T[:3, 3]) @ T[:3, :3]
    K = K.to(points_world.dtype)
    z = cam[:, 2]
    front = z > 1e-9
    zs = torch.where(front, z, torch.ones_like(z))
    u = K[0, 0] * cam[:, 0] / zs + K[0, 2]
    v = K[1, 1] * cam[:, 1] / zs + K[1, 2]
    h, w = hw
    inside = front & (u >= -0.5) & (u <= w - 0.5) & (v >= -0.5) & (v <= h - 0.5)
    return float(inside.double().mean())


def parallax(T_world_f: torch.Tensor, keyframe: LiveKeyframe, median_depth: float) -> float:
    """Baseline between f and the keyframe over f's median depth (inf when undefined)."""
    baseline = float((T_world_f[:3, 3] - keyframe.T_world_cam[:3, 3].to(T_world_f.dtype)).norm())
    if not median_depth > 0:
        return float('inf')
    return baseline / median_depth


def dynamic_from_disagreement(points: torch.Tensor, other: torch.Tensor,
                              confidence: torch.Tensor, threshold: float) -> torch.Tensor:
    """(h, w) bool dynamic mask from two estimates of one frame's camera-frame points.

    The rule of ``steps.dynamic_mask.detect_dynamic`` on the device: relative 3-D
    disagreement (over the distance to the camera) above ``threshold`` on pixels with any
    confidence (> 1), then a one-pixel opening with a cross (isolated hits are noise).
    """
    distance = 0.5 * (points.norm(dim=-1) + other.norm(dim=-1))
    residual = (points - other).norm(dim=-1) / distance.clamp_min(1e-12)
    raw = torch.isfinite(residual) & (residual > threshold) & (confidence > 1.0)
    cross = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]],
                         device=points.device)[None, None]
    img = raw.float()[None, None]
    eroded = F.conv2d(img, cross, padding=1) >= 5.0 - 1e-3
    # binary_opening's erosion treats the outside as background
    dilated = F.conv2d(eroded.float(), cross, padding=1) > 0.5
    return dilated[0, 0] & raw


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
    cam = camera_points(depth, K)
    T = T_world_cam.to(cam.dtype)
    Tk = keyframe.T_world_cam.to(cam.dtype)
    in_kf = ((cam @ T[:3, :3].T + T[:3, 3]) - Tk[:3, 3]) @ Tk[:3, :3]
    Kf = K.to(cam.dtype)
    z = in_kf[..., 2]
    zs = torch.where(z > 1e-9, z, torch.ones_like(z))
    u = Kf[0, 0] * in_kf[..., 0] / zs + Kf[0, 2]
    v = Kf[1, 1] * in_kf[..., 1] / zs + Kf[1, 2]
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
