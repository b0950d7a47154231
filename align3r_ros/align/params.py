"""The optimisable parameters and their parameterisation (documented once, here).

The layout is the reference's (spec §5.2), so that Adam, being element-wise, follows the same
trajectory from the same start:

* ``log_depth`` (N, P): depth D = exp(log_depth), P = h·w row-major.
* ``im_pose`` (N, 7): [q (4, xyzw, normalised on use) | τ (3)], camera-to-world
  T_world_cam = [R(q/‖q‖) | sign(τ)(exp|τ| − 1)].
* ``focal`` (F, 1) with F = 1 (shared) or N: 20·log f (pixels).
* ``pw_pose`` (E, 8): [q (4) | τ (3) | σ], pairwise similarity
  P_e = s̃_e·[R(q) | sign(τ)(exp|τ| − 1)] with s̃_e = exp(σ_e)·g, where g = exp(log 0.5 − mean σ)
  when the scale is pinned (geometric mean of the pairwise scales = 0.5) and 1 otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from align3r_ros.errors import AlignmentError
from align3r_ros.geometry.quaternion import matrix_to_quaternion
from align3r_ros.geometry.torch_ops import quaternion_to_rotation

BASE_SCALE = 0.5
FOCAL_BREAK = 20.0


@dataclass(frozen=True)
class AlignmentParams:
    """Optimisable tensors (mutated in place by the optimiser; the container is frozen)."""

    log_depth: torch.Tensor
    im_pose: torch.Tensor
    focal: torch.Tensor
    pw_pose: torch.Tensor

    def tensors(self) -> list:
        return [self.log_depth, self.im_pose, self.focal, self.pw_pose]

    def detached_copy(self) -> 'AlignmentParams':
        return AlignmentParams(*(t.detach().clone() for t in self.tensors()))

    def to(self, dtype: torch.dtype) -> 'AlignmentParams':
        return AlignmentParams(*(t.detach().to(dtype).clone() for t in self.tensors()))


def signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def signed_expm1(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(torch.abs(x))


def pose_matrices(pose: torch.Tensor) -> torch.Tensor:
    """(K, 7+) raw [q | τ | …] -> (K, 4, 4) rigid transforms [R(q) | signed_expm1(τ)]."""
    R = quaternion_to_rotation(pose[:, :4])
    t = signed_expm1(pose[:, 4:7])
    bottom = torch.zeros(pose.shape[0], 1, 4, dtype=pose.dtype, device=pose.device)
    bottom[:, 0, 3] = 1
    return torch.cat([torch.cat([R, t[:, :, None]], dim=2), bottom], dim=1)


def pair_scales(pw_pose: torch.Tensor, pin_scale: bool) -> torch.Tensor:
    """(E,) pairwise scales s̃_e (geometric mean pinned to 0.5 when ``pin_scale``)."""
    log_s = pw_pose[:, 7]
    if pin_scale:
        log_s = log_s + (math.log(BASE_SCALE) - log_s.mean())
    return log_s.exp()


def pair_matrices(pw_pose: torch.Tensor, pin_scale: bool) -> torch.Tensor:
    """(E, 4, 4) pairwise similarities with the scale applied to rotation and translation."""
    T = pose_matrices(pw_pose)
    s = pair_scales(pw_pose, pin_scale)
    top = T[:, :3, :] * s[:, None, None]
    return torch.cat([top, T[:, 3:, :]], dim=1)


def focal_lengths(focal: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(N,) focal lengths in pixels from the (F, 1) parameter."""
    f = (focal[:, 0] / FOCAL_BREAK).exp()
    return f.expand(num_frames) if f.shape[0] == 1 else f


def encode_pose(T: np.ndarray) -> np.ndarray:
    """(K, 4, 4) rigid transforms -> (K, 7) raw [q xyzw | signed_log1p(t)] float64."""
    T = np.asarray(T, dtype=np.float64)
    return np.concatenate([matrix_to_quaternion(T[:, :3, :3]), signed_log1p(T[:, :3, 3])], 1)


def encode_params(T_world_cam: np.ndarray, depth: np.ndarray, focal: np.ndarray,
                  pw_R: np.ndarray, pw_t: np.ndarray, pw_scale: np.ndarray,
                  shared_focal: bool, dtype: torch.dtype = torch.float32,
                  device: Optional[torch.device] = None) -> AlignmentParams:
    """Parameters from an explicit state.

    Args:
        T_world_cam: (N, 4, 4) camera-to-world.
        depth: (N, P) positive depths (non-positive or non-finite entries get log-depth 0, as
            the reference's ``nan_to_num``).
        focal: (N,) focal lengths (pixels); their mean is used when ``shared_focal``.
        pw_R, pw_t, pw_scale: (E, 3, 3), (E, 3), (E,) pairwise similarity X ↦ s R X + t
            (before any pinning); stored translation is t / s as in the reference.
        dtype, device: of the returned tensors (device None: cpu).
    """
    with np.errstate(divide='ignore', invalid='ignore'):
        log_depth = np.nan_to_num(np.log(np.asarray(depth, np.float64)), nan=0.0, neginf=0.0)
    focal = np.asarray(focal, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(focal) & (focal > 0)):
        # e.g. point maps behind the camera: no pinhole fits, the problem is degenerate
        raise AlignmentError(f'initial focal lengths must be finite and positive, got {focal}')
    scales = np.asarray(pw_scale, dtype=np.float64)
    if not np.all(np.isfinite(scales) & (scales > 0)):
        raise AlignmentError('pairwise scales must be finite and positive')
    f = np.array([[focal.mean()]]) if shared_focal else focal[:, None]
    T_pw = np.tile(np.eye(4), (len(pw_R), 1, 1))
    T_pw[:, :3, :3] = pw_R
    T_pw[:, :3, 3] = np.asarray(pw_t) / np.asarray(pw_scale)[:, None]
    pw = np.concatenate([encode_pose(T_pw), np.log(np.asarray(pw_scale))[:, None]], 1)
    arrays = [log_depth, encode_pose(T_world_cam), FOCAL_BREAK * np.log(f), pw]
    return AlignmentParams(*(torch.tensor(a, dtype=dtype, device=device) for a in arrays))
