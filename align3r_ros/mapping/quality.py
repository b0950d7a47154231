"""How good a map is against a reference map: outliers and points on the movers' trails.

* The map is brought into the reference's frame by the Sim(3) that fits its camera trajectory
  to the reference trajectory (:func:`trajectory_alignment`: Umeyama on the camera centres at
  equal stamps, as the ATE's alignment, optionally with each camera's axes).
* **Outliers**: the map's points farther than ``threshold`` from every reference point (the
  reference: static geometry only, e.g. fused from ground-truth depth of static pixels).
* **Trail points**: outliers inside the volume the movers swept (each mover's ball at every
  frame, grown by ``threshold``): the ghosts a mapper fed with dynamic pixels leaves behind.
  Outliers alone would also count depth errors far from any mover.

Distances use a k-d tree (scipy); no Open3D here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from align3r_ros.errors import InputError
from align3r_ros.geometry.sim3 import Sim3, umeyama_alignment


@dataclass(frozen=True)
class SweptBall:
    """A moving ball's path: where a mover was.

    Attributes:
        centres: (F, 3) its centre at each frame, reference frame.
        radius: its radius, reference units.
    """

    centres: np.ndarray
    radius: float


@dataclass(frozen=True)
class MapQuality:
    """Scores of one map against a reference.

    Attributes:
        points: the map's points scored.
        threshold: the outlier distance, reference units.
        outliers: points farther than ``threshold`` from the reference.
        trail_points: outliers inside the movers' swept volume.
    """

    points: int
    threshold: float
    outliers: int
    trail_points: int

    @property
    def outlier_fraction(self) -> float:
        return self.outliers / self.points if self.points else 0.0


def trajectory_alignment(stamps_ns: np.ndarray, T_world_cam: np.ndarray,
                         ref_stamps_ns: np.ndarray, ref_T_world_cam: np.ndarray,
                         axis_length: float = 0.0) -> Sim3:
    """The Sim(3) mapping a camera trajectory onto the reference's (poses at equal stamps).

    With ``axis_length`` 0: Umeyama on the camera centres (the ATE's alignment). With
    ``axis_length`` L > 0 (the trajectory's units), the cameras' orientations count too: the
    fit also maps the points at L along each camera's x, y and z axes onto the reference's at
    s·L (s: the scale of the centres' fit). A short, nearly straight path leaves the rotation
    about itself undetermined by the centres alone, and a map's far points would carry that
    error; each pose's axes pin it.

    Raises:
        InputError: fewer than 3 common stamps.
        AlignmentError: the centres do not span a plane (evo's rule).
    """
    ref_index = {int(s): k for k, s in enumerate(np.asarray(ref_stamps_ns).reshape(-1))}
    pairs = [(k, ref_index[int(s)]) for k, s in enumerate(np.asarray(stamps_ns).reshape(-1))
             if int(s) in ref_index]
    if len(pairs) < 3:
        raise InputError(f'{len(pairs)} stamps in common with the reference trajectory; the '
                         f'Sim(3) fit needs 3')
    ours, theirs = (np.array(index) for index in zip(*pairs))
    T_ours = np.asarray(T_world_cam, dtype=np.float64)[ours]
    T_ref = np.asarray(ref_T_world_cam, dtype=np.float64)[theirs]
    centres = umeyama_alignment(T_ours[:, :3, 3], T_ref[:, :3, 3], min_rank=2)
    if not axis_length > 0:
        return centres

    def with_axes(T: np.ndarray, length: float) -> np.ndarray:
        tips = T[:, None, :3, 3] + length * np.swapaxes(T[:, :3, :3], 1, 2)  # (N, 3 axes, 3)
        return np.concatenate([T[:, :3, 3], tips.reshape(-1, 3)])

    return umeyama_alignment(with_axes(T_ours, axis_length),
                             with_axes(T_ref, centres.scale * axis_length))


def in_swept_volume(points: np.ndarray, movers: Sequence[SweptBall],
                    margin: float) -> np.ndarray:
    """(P,) bool: within ``radius + margin`` of a mover's centre at some frame."""
    from scipy.spatial import cKDTree

    inside = np.zeros(len(points), dtype=bool)
    for mover in movers:
        tree = cKDTree(np.asarray(mover.centres, dtype=np.float64).reshape(-1, 3))
        distance, _ = tree.query(points, k=1)
        inside |= distance <= float(mover.radius) + float(margin)
    return inside


def map_quality(points: np.ndarray, reference_points: np.ndarray,
                movers: Sequence[SweptBall], threshold: float) -> MapQuality:
    """Outliers and trail points of ``points`` (already in the reference frame).

    Args:
        points: (P, 3) the map's points.
        reference_points: (R, 3) the reference map's points (static geometry).
        movers: the movers' paths.
        threshold: outlier distance, reference units (> 0).

    Raises:
        InputError: an empty reference, or a threshold that is not > 0.
    """
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    reference_points = np.asarray(reference_points, dtype=np.float64).reshape(-1, 3)
    if len(reference_points) == 0:
        raise InputError('the reference map has no points')
    if not (np.isfinite(threshold) and threshold > 0):
        raise InputError(f'the outlier threshold must be > 0, got {threshold}')
    if len(points) == 0:
        return MapQuality(0, float(threshold), 0, 0)
    distance, _ = cKDTree(reference_points).query(points, k=1)
    outlier = distance > threshold
    trail = outlier & in_swept_volume(points, movers, threshold)
    return MapQuality(points=len(points), threshold=float(threshold),
                      outliers=int(outlier.sum()), trail_points=int(trail.sum()))


def reference_extent(reference_points: np.ndarray) -> float:
    """The scene's extent: the diagonal of the reference map's bounding box."""
    reference_points = np.asarray(reference_points, dtype=np.float64).reshape(-1, 3)
    if len(reference_points) == 0:
        raise InputError('the reference map has no points')
    return float(np.linalg.norm(np.ptp(reference_points, axis=0)))
