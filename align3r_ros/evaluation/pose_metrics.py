"""Camera-pose metrics with the paper's protocol (spec §7.2; evo as ``dust3r/utils/vo_eval.py``
calls it).

* ATE: the estimated camera positions are Sim(3)-aligned to the ground truth (Umeyama with scale,
  evo's ``align=True, correct_scale=True``); ATE is the RMSE of the position differences.
* RPE with Δ = 1 frame on the Sim(3)-aligned estimate: for consecutive k,
  ``E = (Q_k⁻¹ Q_{k+1})⁻¹ (P_k⁻¹ P_{k+1})`` (Q ground truth, P estimate, camera-to-world);
  RPE-trans = RMSE of ‖t(E)‖, RPE-rot = RMSE of the rotation angle of E in degrees.
* A sequence whose alignment is impossible (evo's rule: fewer than two singular values of the 3×3
  position cross-covariance above machine epsilon, e.g. a static camera) or whose SVD does not
  converge is reported as skipped and left out of dataset means, as ``tool/pose_test.py`` does.
* Dataset score: the unweighted mean over the sequences that were not skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from align3r_ros.errors import AlignmentError, InputError
from align3r_ros.geometry.quaternion import matrix_to_quaternion, quaternion_to_matrix
from align3r_ros.geometry.se3 import relative_transform
from align3r_ros.geometry.sim3 import Sim3, umeyama_alignment


@dataclass(frozen=True)
class PoseMetrics:
    """Trajectory errors of one sequence (or an unweighted dataset mean).

    Attributes:
        ate: RMSE of position errors after Sim(3) alignment, ground-truth units (NaN if skipped).
        rpe_trans: RMSE of relative translation errors, Δ = 1 frame (NaN if skipped).
        rpe_rot_deg: RMSE of relative rotation errors in degrees, Δ = 1 frame (NaN if skipped).
        n_poses: poses evaluated (for an average: sequences averaged).
        skipped: '' when evaluated, else why the sequence was left out.
        sim3_scale: scale of the estimate-to-ground-truth similarity (NaN if skipped).
    """

    ate: float
    rpe_trans: float
    rpe_rot_deg: float
    n_poses: int
    skipped: str = ''
    sim3_scale: float = float('nan')

    @property
    def ok(self) -> bool:
        return not self.skipped


def align_positions(src: np.ndarray, dst: np.ndarray) -> Sim3:
    """evo's Sim(3) alignment of positions: Umeyama with scale, covariance rank at least 2.

    Args:
        src: (N, 3) points to align (estimated positions).
        dst: (N, 3) target points (ground-truth positions).

    Raises:
        AlignmentError: degenerate covariance rank (fewer than 2 singular values above eps),
            e.g. positions that do not move.
    """
    return umeyama_alignment(src, dst, with_scale=True, min_rank=2)


def _project_rotations(T: np.ndarray) -> np.ndarray:
    """Snap rotation blocks to SO(3), as the reference's trip through quaternions does."""
    out = np.array(T, dtype=np.float64, copy=True)
    out[:, :3, :3] = quaternion_to_matrix(matrix_to_quaternion(out[:, :3, :3]))
    return out


def rotation_angles_deg(R: np.ndarray) -> np.ndarray:
    """(N,) rotation angles in degrees of (N, 3, 3) rotations (via the rotation vector)."""
    from scipy.spatial.transform import Rotation

    return np.degrees(np.linalg.norm(Rotation.from_matrix(R).as_rotvec(), axis=-1))


def evaluate_trajectory(T_world_cam_est: np.ndarray, T_world_cam_gt: np.ndarray) -> PoseMetrics:
    """ATE and RPE (Δ = 1 frame) of an estimated trajectory after Sim(3) alignment.

    Args:
        T_world_cam_est: (N, 4, 4) estimated camera-to-world poses (any world, any scale).
        T_world_cam_gt: (N, 4, 4) ground-truth camera-to-world poses, associated index by index.

    Returns:
        The metrics, or a skipped entry (``skipped`` says why) for fewer than 3 poses, non-finite
        poses or a degenerate alignment.
    """
    est = np.asarray(T_world_cam_est, dtype=np.float64)
    gt = np.asarray(T_world_cam_gt, dtype=np.float64)
    if est.shape != gt.shape or est.shape[1:] != (4, 4):
        raise InputError(f'trajectories must both be (N, 4, 4), got {est.shape} and {gt.shape}')
    n = est.shape[0]
    nan = float('nan')
    if n < 3:
        return PoseMetrics(nan, nan, nan, n, skipped=f'only {n} poses (need 3)')
    if not (np.isfinite(est).all() and np.isfinite(gt).all()):
        return PoseMetrics(nan, nan, nan, n, skipped='non-finite poses')
    est = _project_rotations(est)
    gt = _project_rotations(gt)
    try:
        sim3 = align_positions(est[:, :3, 3], gt[:, :3, 3])
        aligned = sim3.apply_to_poses(est)
        # The reference's evo calls align the estimate in place for the ATE and align it again
        # for the RPE. The second alignment is the identity, except when the ground truth barely
        # moves: the aligned estimate then shrinks onto it, the covariance turns degenerate and
        # the reference skips the sequence. Doing the same keeps the skipped set identical.
        realigned = align_positions(aligned[:, :3, 3], gt[:, :3, 3]).apply_to_poses(aligned)
    except (AlignmentError, np.linalg.LinAlgError) as exc:
        return PoseMetrics(nan, nan, nan, n, skipped=str(exc))
    position_errors = np.linalg.norm(aligned[:, :3, 3] - gt[:, :3, 3], axis=1)
    ate = float(np.sqrt(np.mean(position_errors ** 2)))
    delta_gt = relative_transform(gt[:-1], gt[1:])
    delta_est = relative_transform(realigned[:-1], realigned[1:])
    error = relative_transform(delta_gt, delta_est)
    rpe_trans = float(np.sqrt(np.mean(np.sum(error[:, :3, 3] ** 2, axis=1))))
    rpe_rot = float(np.sqrt(np.mean(rotation_angles_deg(error[:, :3, :3]) ** 2)))
    return PoseMetrics(ate, rpe_trans, rpe_rot, n, sim3_scale=sim3.scale)


def average_pose_metrics(per_sequence: Sequence[PoseMetrics]) -> PoseMetrics:
    """Unweighted mean over the sequences that were not skipped (``n_poses`` = their count).

    Returns a skipped entry when every sequence was skipped.
    """
    kept = [m for m in per_sequence if m.ok]
    nan = float('nan')
    if not kept:
        return PoseMetrics(nan, nan, nan, 0, skipped='every sequence was skipped')
    return PoseMetrics(ate=float(np.mean([m.ate for m in kept])),
                       rpe_trans=float(np.mean([m.rpe_trans for m in kept])),
                       rpe_rot_deg=float(np.mean([m.rpe_rot_deg for m in kept])),
                       n_poses=len(kept))
