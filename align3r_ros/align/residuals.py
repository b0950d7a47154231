"""Per-pixel disagreement between an aligned solution and the pairwise predictions."""

from __future__ import annotations

import numpy as np

from align3r_ros.align.result import AlignmentResult
from align3r_ros.errors import InputError
from align3r_ros.geometry.camera import unproject_depth
from align3r_ros.structures import PairPredictions


def alignment_residuals(result: AlignmentResult, predictions: PairPredictions) -> np.ndarray:
    """Relative 3-D disagreement per pixel (used for dynamic masks).

    For frame n and pixel p: the mean over the edges containing n (as i or j, with a finite
    prediction) of ‖X_n(p) − P_e X̂(p)‖ / D_n(p), where X_n is the aligned world point,
    P_e = ``result.T_world_pair[e]`` and X̂ the edge's prediction of that pixel.

    Returns:
        (N, h, w) float32; NaN where no edge gives a finite value or the depth is not positive.
    """
    T = result.T_world_cam
    N, h, w = result.depth.shape
    edges = np.asarray(predictions.edges, dtype=np.int64)
    if predictions.pts_i.shape[1:3] != (h, w) or len(edges) != len(result.T_world_pair):
        raise InputError(f'predictions {predictions.pts_i.shape} / {len(edges)} edges do not '
                         f'match the result ({N}, {h}, {w}) / {len(result.T_world_pair)} edges')
    pts_cam = unproject_depth(result.depth, result.K)
    X = np.einsum('nij,nhwj->nhwi', T[:, :3, :3], pts_cam) + T[:, None, None, :3, 3]
    total = np.zeros((N, h, w))
    count = np.zeros((N, h, w))
    for e, (i, j) in enumerate(edges.tolist()):
        A = result.T_world_pair[e]
        for frame, pts in ((i, predictions.pts_i[e]), (j, predictions.pts_j[e])):
            aligned = pts.astype(np.float64) @ A[:3, :3].T + A[:3, 3]
            dist = np.linalg.norm(X[frame] - aligned, axis=-1)
            ok = np.isfinite(dist)
            total[frame][ok] += dist[ok]
            count[frame][ok] += 1
    depth = result.depth.astype(np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        rel = total / count / depth
    rel[(count == 0) | ~(depth > 0)] = np.nan
    return rel.astype(np.float32)
