"""Simulated robot odometry from a ground-truth camera path (``align3r-bench odometry``).

Odometry integrates per-frame camera motions corrupted the way wheel odometry is:

* a scale error (translations times ``1 + scale_error``);
* per-frame noise: Gaussian translation (``translation_noise_m`` per axis) and rotation
  (``rotation_noise_deg`` per axis, as a rotation vector);
* yaw drift: a rotation of ``yaw_drift_deg_per_m`` per metre travelled about the up axis (the
  first camera's -y, REP 103 optical: y points down);
* an optional slip: over ``slip`` = (first, stop) frames the odometry stays frozen while the
  camera moves (the motion is lost, as when wheels slip).

The odometry frame is the ground-truth world (``T_odom_cam[0] = T_world_cam[0]``), so the
odometry's own error is the accumulated corruption. NumPy only, float64, metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from align3r_ros.geometry.se3 import relative_transform


@dataclass(frozen=True)
class OdometryNoise:
    """How simulated odometry departs from the truth (defaults: the issue's benchmark)."""

    scale_error: float = 0.01
    translation_noise_m: float = 0.005
    rotation_noise_deg: float = 0.2
    yaw_drift_deg_per_m: float = 0.5
    slip: Optional[Tuple[int, int]] = None
    seed: int = 0


def simulate_odometry(T_world_cam: np.ndarray, noise: OdometryNoise) -> np.ndarray:
    """(N, 4, 4) odometry poses ``T_odom_cam`` of the ground-truth path ``T_world_cam``.

    Args:
        T_world_cam: (N, 4, 4) ground-truth camera-to-world poses, metres.
        noise: the corruption.
    """
    gt = np.asarray(T_world_cam, dtype=np.float64)
    rng = np.random.default_rng(noise.seed)
    up_world = gt[0, :3, :3] @ np.array([0.0, -1.0, 0.0])
    out = np.empty_like(gt)
    out[0] = gt[0]
    slip = range(*noise.slip) if noise.slip else range(0)
    for k in range(1, len(gt)):
        if k in slip:
            out[k] = out[k - 1]
            continue
        step = relative_transform(gt[k - 1], gt[k])
        t = step[:3, 3] * (1.0 + noise.scale_error) + rng.normal(0, noise.translation_noise_m, 3)
        drift = np.radians(noise.yaw_drift_deg_per_m) * float(np.linalg.norm(step[:3, 3]))
        up_cam = out[k - 1, :3, :3].T @ up_world
        R = (Rotation.from_rotvec(drift * up_cam) *
             Rotation.from_rotvec(np.radians(rng.normal(0, noise.rotation_noise_deg, 3))) *
             Rotation.from_matrix(step[:3, :3])).as_matrix()
        increment = np.eye(4)
        increment[:3, :3] = R
        increment[:3, 3] = t
        out[k] = out[k - 1] @ increment
    return out
