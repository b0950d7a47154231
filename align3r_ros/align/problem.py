"""The alignment problem, built once from pairwise predictions (no optimisable state here).

Shapes: N frames sharing one network resolution (h, w), P = h·w pixels flattened row-major,
E directed edges. Edge e = (i, j): ``pts_i[e]`` are view i's points and ``pts_j[e]`` view j's
points, both in camera i's frame (network units, arbitrary per-edge scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from align3r_ros.config import AlignConfig, ConfidenceMode
from align3r_ros.errors import AlignmentError, InputError
from align3r_ros.structures import PairPredictions

#: depth_test.py overwrites every confidence > 1 with this value (uniform weights log 10).
UNIFORM_CONFIDENCE = 10.0


@dataclass(frozen=True)
class Intrinsics:
    """Per-frame pinhole parameters held fixed (known intrinsics), at (h, w).

    Attributes:
        fx, fy, cx, cy: (N,) float64 pixels.
    """

    fx: np.ndarray
    fy: np.ndarray
    cx: np.ndarray
    cy: np.ndarray

    @classmethod
    def from_matrices(cls, K: np.ndarray) -> 'Intrinsics':
        K = np.asarray(K, dtype=np.float64)
        return cls(fx=K[:, 0, 0].copy(), fy=K[:, 1, 1].copy(), cx=K[:, 0, 2].copy(),
                   cy=K[:, 1, 2].copy())


@dataclass(frozen=True)
class AnchorSet:
    """Frames whose pose (and optionally depth) are held fixed.

    Attributes:
        pose_mask: (N,) bool, True for anchored frames.
        T_world_cam: (N, 4, 4) float64 camera-to-world of anchored frames (identity elsewhere).
        depth_mask: (N,) bool, True where the anchor also fixes the depth map.
        depth: (N, P) float64 fixed depths (1 elsewhere).
    """

    pose_mask: np.ndarray
    T_world_cam: np.ndarray
    depth_mask: np.ndarray
    depth: np.ndarray

    @property
    def any(self) -> bool:
        return bool(self.pose_mask.any())

    @property
    def fixes_scale(self) -> bool:
        """True when the anchors determine the global scale (then the scale pin is dropped).

        A depth anchor fixes it; so do two pose anchors with distinct camera centres.
        """
        if self.depth_mask.any():
            return True
        centres = self.T_world_cam[self.pose_mask, :3, 3]
        if len(centres) < 2:
            return False
        spread = np.linalg.norm(centres - centres[:1], axis=1).max()
        return bool(spread > 1e-9)


@dataclass(frozen=True)
class AlignmentProblem:
    """Everything the objective and the initialisation read; built by :func:`build_problem`.

    Attributes:
        edges: (E, 2) int64.
        num_frames: N.
        shape: (h, w).
        pts_i, pts_j: (E, P, 3) float32 pairwise points (non-finite input replaced by 0).
        conf_i, conf_j: (E, P) float32 confidences after the confidence mode (0 where the input
            was non-finite); the MST scores and Procrustes weights use them.
        weight_i, weight_j: (E, P) float32 loss weights: log(conf) (>= 0) times the pixel
            weights of the frame, 0 where invalid.
        im_conf: (N, P) float32 max over edges of the frame's confidence (reference im_conf).
        intrinsics: fixed intrinsics, or None when the focal is estimated (pp at (w/2, h/2)).
        shared_focal: one focal for all frames (estimate mode only).
        anchors: frames held fixed.
        pin_scale: True when the geometric mean of the pairwise scales is pinned to 0.5.
        temporal_weight, translation_weight: temporal smoothing weights (0 disables).
        min_conf_thr: confidence above which pixels are used by the PnP initialisation.
    """

    edges: np.ndarray
    num_frames: int
    shape: tuple
    pts_i: np.ndarray
    pts_j: np.ndarray
    conf_i: np.ndarray
    conf_j: np.ndarray
    weight_i: np.ndarray
    weight_j: np.ndarray
    im_conf: np.ndarray
    intrinsics: Optional[Intrinsics]
    shared_focal: bool
    anchors: AnchorSet
    pin_scale: bool
    temporal_weight: float
    translation_weight: float
    min_conf_thr: float

    @property
    def num_edges(self) -> int:
        return int(self.edges.shape[0])

    @property
    def num_pixels(self) -> int:
        return int(self.shape[0] * self.shape[1])

    @property
    def principal_point(self) -> tuple:
        """The reference's estimated-mode principal point (w/2, h/2)."""
        return (self.shape[1] / 2.0, self.shape[0] / 2.0)


def _sanitise(pts: np.ndarray, conf: np.ndarray, name: str) -> tuple:
    pts = np.asarray(pts, dtype=np.float32)
    conf = np.asarray(conf, dtype=np.float32)
    valid = np.isfinite(pts).all(axis=-1) & np.isfinite(conf)
    if not valid.all():
        pts = np.where(valid[..., None], pts, 0.0).astype(np.float32)
        conf = np.where(valid, conf, 0.0).astype(np.float32)
    return pts, conf, valid


def _build_anchors(anchors: Sequence, num_frames: int, hw: tuple) -> AnchorSet:
    P = hw[0] * hw[1]
    pose_mask = np.zeros(num_frames, dtype=bool)
    T = np.tile(np.eye(4), (num_frames, 1, 1))
    depth_mask = np.zeros(num_frames, dtype=bool)
    depth = np.ones((num_frames, P))
    for anchor in anchors:
        k = int(anchor.index)
        if not 0 <= k < num_frames:
            raise InputError(f'anchor index {k} outside 0..{num_frames - 1}')
        T_k = np.asarray(anchor.T_world_cam, dtype=np.float64)
        if T_k.shape != (4, 4) or not np.isfinite(T_k).all():
            raise InputError(f'anchor {k}: T_world_cam must be a finite 4x4, got {T_k.shape}')
        pose_mask[k] = True
        T[k] = T_k
        if anchor.depth is not None:
            d = np.asarray(anchor.depth, dtype=np.float64)
            if d.shape != tuple(hw):
                raise InputError(f'anchor {k}: depth shape {d.shape} != {tuple(hw)}')
            if not (np.isfinite(d).all() and (d > 0).all()):
                raise InputError(f'anchor {k}: depth must be finite and positive everywhere')
            depth_mask[k] = True
            depth[k] = d.reshape(-1)
    return AnchorSet(pose_mask=pose_mask, T_world_cam=T, depth_mask=depth_mask, depth=depth)


def build_problem(predictions: PairPredictions, config: AlignConfig, *,
                  K_known: Optional[np.ndarray] = None, anchors: Sequence = (),
                  pixel_weights: Optional[np.ndarray] = None) -> AlignmentProblem:
    """Validate the predictions and build the problem.

    Raises:
        InputError: inconsistent shapes, bad intrinsics, anchors or pixel weights.
        AlignmentError: a degenerate problem (fewer than 2 frames, a frame without edges,
            no valid pixel).
    """
    edges = np.asarray(predictions.edges)
    if edges.ndim != 2 or edges.shape[1] != 2 or edges.shape[0] == 0:
        raise AlignmentError(f'edges must be a non-empty (E, 2) array, got {edges.shape}')
    edges = edges.astype(np.int64)
    if (edges < 0).any() or (edges[:, 0] == edges[:, 1]).any():
        raise InputError('edges must be non-negative pairs of distinct frames')
    E = edges.shape[0]
    if predictions.pts_i.ndim != 4 or predictions.pts_i.shape[0] != E:
        raise InputError(f'pts_i shape {predictions.pts_i.shape} does not match {E} edges')
    h, w = predictions.pts_i.shape[1:3]
    for name in ('pts_j', 'conf_i', 'conf_j'):
        arr = getattr(predictions, name)
        expected = (E, h, w, 3) if name.startswith('pts') else (E, h, w)
        if tuple(arr.shape) != expected:
            raise InputError(f'{name} shape {arr.shape} != {expected}')
    N = int(edges.max()) + 1
    if N < 2:
        raise AlignmentError(f'need at least 2 frames, got {N}')
    missing = np.setdiff1d(np.arange(N), edges.ravel())
    if missing.size:
        raise AlignmentError(f'frames {missing.tolist()} appear in no edge')

    P = h * w
    pts_i, conf_i, valid_i = _sanitise(predictions.pts_i.reshape(E, P, 3),
                                       predictions.conf_i.reshape(E, P), 'i')
    pts_j, conf_j, valid_j = _sanitise(predictions.pts_j.reshape(E, P, 3),
                                       predictions.conf_j.reshape(E, P), 'j')
    if ConfidenceMode(config.confidence) == ConfidenceMode.UNIFORM:
        conf_i = np.where(conf_i > 1, UNIFORM_CONFIDENCE, conf_i).astype(np.float32)
        conf_j = np.where(conf_j > 1, UNIFORM_CONFIDENCE, conf_j).astype(np.float32)
    with np.errstate(divide='ignore'):
        weight_i = np.where(valid_i, np.log(np.maximum(conf_i, 1.0)), 0.0).astype(np.float32)
        weight_j = np.where(valid_j, np.log(np.maximum(conf_j, 1.0)), 0.0).astype(np.float32)
    if pixel_weights is not None:
        pw = np.asarray(pixel_weights, dtype=np.float32)
        if pw.shape != (N, h, w):
            raise InputError(f'pixel_weights shape {pw.shape} != {(N, h, w)}')
        pw = np.clip(np.nan_to_num(pw, nan=0.0), 0.0, 1.0).reshape(N, P)
        weight_i = weight_i * pw[edges[:, 0]]
        weight_j = weight_j * pw[edges[:, 1]]
    if not (weight_i.any() or weight_j.any()):
        raise AlignmentError('every pixel of every edge has zero weight (confidence <= 1)')

    im_conf = np.zeros((N, P), dtype=np.float32)
    for e, (i, j) in enumerate(edges):
        np.maximum(im_conf[i], conf_i[e], out=im_conf[i])
        np.maximum(im_conf[j], conf_j[e], out=im_conf[j])

    intrinsics = None
    if K_known is not None:
        K = np.asarray(K_known, dtype=np.float64)
        if K.shape != (N, 3, 3) or not np.isfinite(K).all():
            raise InputError(f'K_known must be finite (N, 3, 3) = {(N, 3, 3)}, got {K.shape}')
        if (K[:, 0, 0] <= 0).any() or (K[:, 1, 1] <= 0).any():
            raise InputError('K_known focal lengths must be positive')
        intrinsics = Intrinsics.from_matrices(K)

    anchor_set = _build_anchors(anchors, N, (h, w))
    return AlignmentProblem(
        edges=edges, num_frames=N, shape=(int(h), int(w)), pts_i=pts_i, pts_j=pts_j,
        conf_i=conf_i, conf_j=conf_j, weight_i=weight_i, weight_j=weight_j, im_conf=im_conf,
        intrinsics=intrinsics, shared_focal=bool(config.shared_focal), anchors=anchor_set,
        pin_scale=not anchor_set.fixes_scale, temporal_weight=float(config.temporal_weight),
        translation_weight=float(config.translation_weight),
        min_conf_thr=float(config.min_conf_thr))
