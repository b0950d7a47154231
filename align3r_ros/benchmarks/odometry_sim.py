"""Simulated robot odometry from a ground-truth camera path (``align3r-bench odometry``).

Odometry integrates the per-frame camera motions with the errors that accumulate:

* a scale error (translations times ``1 + scale_error``);
* yaw drift: a rotation of ``yaw_drift_deg_per_m`` per metre travelled about the up axis (the
  first camera's -y, REP 103 optical: y points down);
* an optional slip: over ``slip`` = (first, stop) frames the odometry stays frozen while the
  camera moves (the motion is lost, as when wheels slip);

and adds per-frame noise — Gaussian translation (``translation_noise_m`` per axis) and rotation
(``rotation_noise_deg`` per axis, as a rotation vector) — in one of two ways (``noise_model``):

* ``jitter`` (the benchmark's): each frame's pose is the drifted pose times its own noise,
  independent from frame to frame. The issue's "ground truth with a 1 % scale error, 5 mm / 0.2°
  noise per frame, 0.5° per metre yaw drift": drift is the scale error and the yaw drift, noise
  the per-frame measurement error (time-stamp jitter, mount vibration, quantisation).
* ``walk``: the noise corrupts each frame-to-frame increment and is integrated, a random walk.
  At the benchmark's 15 mm of motion per frame (2 to 38 mm), 5 mm per axis (8.7 mm in 3-D) is
  a 60 % error on the mean increment — no real odometry — and it bounds any scale estimate:
  with exact vision the best unbiased scale from ``n`` increments ``d_k`` has a standard
  deviation of ``translation_noise_m / sqrt(sum |d_k|^2)`` (the Cramér–Rao bound of the linear
  model ``d_odom = s d_vision + noise``; :func:`walk_scale_bound`): 5.5 % after 0.3 m and 3.3 %
  after all 64 frames of the benchmark's path. A stress case, not the target's.

The odometry frame is the ground-truth world (``T_odom_cam[0] = T_world_cam[0]``), so the
odometry's own error is the accumulated corruption plus the noise. NumPy only, float64, metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from align3r_ros.geometry.se3 import relative_transform


#: how the per-frame noise enters (see the module docstring).
NOISE_MODELS = ('jitter', 'walk')


@dataclass(frozen=True)
class OdometryNoise:
    """How simulated odometry departs from the truth (defaults: the issue's benchmark)."""

    scale_error: float = 0.01
    translation_noise_m: float = 0.005
    rotation_noise_deg: float = 0.2
    yaw_drift_deg_per_m: float = 0.5
    slip: Optional[Tuple[int, int]] = None
    seed: int = 0
    noise_model: str = 'jitter'

    def __post_init__(self) -> None:
        if self.noise_model not in NOISE_MODELS:
            raise ValueError(f'noise_model {self.noise_model!r}: choose from '
                             f'{", ".join(NOISE_MODELS)}')


def _noise(rng: np.random.Generator, noise: OdometryNoise) -> np.ndarray:
    """(4, 4) one draw of the per-frame noise transform."""
    out = np.eye(4)
    out[:3, :3] = Rotation.from_rotvec(
        np.radians(rng.normal(0, noise.rotation_noise_deg, 3))).as_matrix()
    out[:3, 3] = rng.normal(0, noise.translation_noise_m, 3)
    return out


def simulate_odometry(T_world_cam: np.ndarray, noise: OdometryNoise) -> np.ndarray:
    """(N, 4, 4) odometry poses ``T_odom_cam`` of the ground-truth path ``T_world_cam``.

    Args:
        T_world_cam: (N, 4, 4) ground-truth camera-to-world poses, metres.
        noise: the corruption.
    """
    gt = np.asarray(T_world_cam, dtype=np.float64)
    rng = np.random.default_rng(noise.seed)
    walk = noise.noise_model == 'walk'
    up_world = gt[0, :3, :3] @ np.array([0.0, -1.0, 0.0])
    drifted = np.empty_like(gt)  # integrated scale error, yaw drift (and, walking, the noise)
    drifted[0] = gt[0]
    out = np.empty_like(gt)
    out[0] = gt[0]
    slip = range(*noise.slip) if noise.slip else range(0)
    for k in range(1, len(gt)):
        if k in slip:  # frozen: the same message again
            drifted[k] = drifted[k - 1]
            out[k] = out[k - 1]
            continue
        step = relative_transform(gt[k - 1], gt[k])
        drift = np.radians(noise.yaw_drift_deg_per_m) * float(np.linalg.norm(step[:3, 3]))
        up_cam = drifted[k - 1, :3, :3].T @ up_world
        increment = np.eye(4)
        increment[:3, :3] = (Rotation.from_rotvec(drift * up_cam) *
                             Rotation.from_matrix(step[:3, :3])).as_matrix()
        increment[:3, 3] = step[:3, 3] * (1.0 + noise.scale_error)
        if walk:
            e = _noise(rng, noise)
            increment[:3, :3] = e[:3, :3] @ increment[:3, :3]
            increment[:3, 3] += e[:3, 3]
        drifted[k] = drifted[k - 1] @ increment
        out[k] = drifted[k] if walk else drifted[k] @ _noise(rng, noise)
    return out


def walk_scale_bound(T_world_cam: np.ndarray, translation_noise_m: float) -> np.ndarray:
    """(N,) the Cramér–Rao bound on a scale estimate's relative standard deviation from the
    increments up to each frame of ``T_world_cam`` (metres) under ``walk`` noise:
    ``translation_noise_m / sqrt(sum_k |d_k|^2)`` (inf at frame 0)."""
    gt = np.asarray(T_world_cam, dtype=np.float64)
    steps = np.sum(np.diff(gt[:, :3, 3], axis=0) ** 2, axis=1)
    with np.errstate(divide='ignore'):
        return translation_noise_m / np.sqrt(np.concatenate([[0.0], np.cumsum(steps)]))
