"""Error measures of engine runs against synthetic ground truth."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from align3r_ros.evaluation.pose_metrics import evaluate_trajectory
from align3r_ros.structures import FrameResult


def ate_percent(T_est: np.ndarray, T_gt: np.ndarray) -> float:
    """ATE after Sim(3), as % of the ground-truth trajectory length."""
    length = np.linalg.norm(np.diff(T_gt[:, :3, 3], axis=0), axis=1).sum()
    return 100.0 * evaluate_trajectory(T_est, T_gt).ate / length


def median_scaled_abs_rel(depth: np.ndarray, gt: np.ndarray, keep: np.ndarray) -> tuple:
    """(Abs Rel after one median scale, fraction of kept pixels with a finite prediction)."""
    ok = keep & np.isfinite(depth) & np.isfinite(gt) & (gt > 0)
    scale = np.median(gt[ok] / depth[ok])
    abs_rel = np.mean(np.abs(scale * depth[ok] - gt[ok]) / gt[ok])
    return float(abs_rel), float(ok.sum() / keep.sum())


def poses(results: Sequence[FrameResult]) -> np.ndarray:
    """(N, 4, 4) camera-to-world poses of the results, in their order."""
    return np.stack([r.T_world_cam for r in results])
