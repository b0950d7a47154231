"""Minimum-spanning-tree initialisation (spec §5.5), reproducing the reference's choices.

Pure: reads the problem, returns world points, poses and focals before scale normalisation.
Reference quirks kept on purpose (fixture README):

* a popped tree edge (i, j) whose frame i has no focal yet gets it from ``pts_i`` of the
  *previously processed* edge (the reference does not refresh its loop variable), postponed
  pops included;
* a frame that is never the first element of a processed tree edge (except the root's first
  frame) gets its pose from RANSAC-PnP on its world points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import minimum_spanning_tree

from align3r_ros.align.focal import estimate_focal
from align3r_ros.align.pnp import pnp_camera_pose
from align3r_ros.align.problem import AlignmentProblem
from align3r_ros.errors import AlignmentError
from align3r_ros.geometry.se3 import make_transform
from align3r_ros.geometry.sim3 import umeyama_alignment


@dataclass(frozen=True)
class TreeInit:
    """Result of the MST step (before the pairwise fit and the scale normalisation).

    Attributes:
        pts_world: (N, P, 3) float64 world points of every frame.
        T_world_cam: (N, 4, 4) float64 camera-to-world poses.
        focals: (N,) float64 focal lengths (fx) in pixels.
        tree_edges: (N−1, 2) int64 tree edges in processing order (first = root).
        pnp_frames: (K,) int64 frames whose pose came from PnP (or identity fallback).
    """

    pts_world: np.ndarray
    T_world_cam: np.ndarray
    focals: np.ndarray
    tree_edges: np.ndarray
    pnp_frames: np.ndarray


@dataclass(frozen=True)
class RootPrior:
    """Reference hierarchical clip init: frame 0 gets a known pose and focal (spec §6.2).

    Attributes:
        T_world_cam: (4, 4) pose given to frame 0.
        focal: focal length given to frame 0 (pixels).
    """

    T_world_cam: np.ndarray
    focal: float


def edge_scores(problem: AlignmentProblem) -> np.ndarray:
    """(E,) score mean(conf_i)·mean(conf_j) per directed edge."""
    return (problem.conf_i.astype(np.float64).mean(1)
            * problem.conf_j.astype(np.float64).mean(1))


def _spanning_tree(problem: AlignmentProblem, scores: np.ndarray) -> list:
    """Tree edges sorted ascending by (score, i, j), as the reference pops from the end.

    Ties are broken explicitly, so the tree does not depend on the sort kernel of the machine:
    edges are ranked by (score descending, i, j) and the tree is built on those unique ranks.
    With equal scores (e.g. every confidence set to 10) that is what a stable Kruskal over the
    row-major edge order picks, the reference's tree on the fixtures.
    """
    N = problem.num_frames
    edges = problem.edges.tolist()
    rank = np.lexsort((problem.edges[:, 1], problem.edges[:, 0], -scores))
    graph = sp.dok_array((N, N))
    for position, e in enumerate(rank.tolist()):
        i, j = edges[e]
        graph[i, j] = position + 1.0  # > 0: an explicit zero would be no edge
    tree = minimum_spanning_tree(graph).tocoo()
    if tree.nnz != N - 1:
        raise AlignmentError(f'pair graph is not connected: spanning tree has {tree.nnz} '
                             f'edges for {N} frames')
    score_of = {(i, j): float(score) for (i, j), score in zip(edges, scores.tolist())}
    chosen = [(score_of[(i, j)], i, j) for i, j in zip(tree.row.tolist(), tree.col.tolist())]
    return sorted(chosen)


class _Edges:
    """Edge lookup (i, j) -> row."""

    def __init__(self, edges: np.ndarray):
        self.index = {(int(i), int(j)): e for e, (i, j) in enumerate(edges)}

    def __call__(self, i: int, j: int) -> int:
        return self.index[(i, j)]


def _focal_of(problem: AlignmentProblem, e: int) -> float:
    if problem.intrinsics is not None:
        return float(problem.intrinsics.fx[problem.edges[e, 0]])
    return estimate_focal(problem.pts_i[e], problem.shape, problem.principal_point)


def _register(src: np.ndarray, dst: np.ndarray, weights: np.ndarray):
    try:
        return umeyama_alignment(src, dst, weights, with_scale=True)
    except ValueError as exc:
        raise AlignmentError(f'MST init: Procrustes failed ({exc})') from exc


def mst_initialisation(problem: AlignmentProblem, niter_pnp: int = 10,
                       root_prior: Optional[RootPrior] = None) -> TreeInit:
    """World points, poses and focals from a maximum-score spanning tree of the pair graph.

    Args:
        problem: the alignment problem.
        niter_pnp: RANSAC iterations of the PnP fallback.
        root_prior: reference hierarchical variant: root = best tree edge touching frame 0,
            frame 0 gets this pose and focal and the root pair's points are moved by the pose.
    """
    N = problem.num_frames
    scores = edge_scores(problem)
    todo = _spanning_tree(problem, scores)
    edge_of = _Edges(problem.edges)
    pts = [None] * N
    poses = [None] * N
    focals = [None] * N

    if root_prior is None:
        _, i, j = todo.pop()
        e = edge_of(i, j)
        pts[i] = problem.pts_i[e].astype(np.float64)
        pts[j] = problem.pts_j[e].astype(np.float64)
        poses[i] = np.eye(4)
        focals[i] = _focal_of(problem, e)
    else:
        k = max(n for n, (_, a, b) in enumerate(todo) if 0 in (a, b))
        _, i, j = todo.pop(k)
        e = edge_of(i, j)
        T0 = np.asarray(root_prior.T_world_cam, dtype=np.float64)
        pts[i] = problem.pts_i[e] @ T0[:3, :3].T + T0[:3, 3]
        pts[j] = problem.pts_j[e] @ T0[:3, :3].T + T0[:3, 3]
        poses[0] = T0
        focals[0] = float(root_prior.focal)
    done = {i, j}
    tree_edges = [(i, j)]
    last_edge = e
    while todo:
        score, i, j = todo.pop()
        if focals[i] is None:
            focals[i] = _focal_of(problem, last_edge)  # the stale-edge quirk
        if i in done and j not in done:
            e = edge_of(i, j)
            reg = _register(problem.pts_i[e], pts[i], problem.conf_i[e])
            pts[j] = reg.apply(problem.pts_j[e])
            done.add(j)
        elif j in done and i not in done:
            e = edge_of(i, j)
            reg = _register(problem.pts_j[e], pts[j], problem.conf_j[e])
            pts[i] = reg.apply(problem.pts_i[e])
            done.add(i)
        elif i in done and j in done:
            continue
        else:
            todo.insert(0, (score, i, j))
            continue
        last_edge = e
        tree_edges.append((i, j))
        if poses[i] is None:
            poses[i] = make_transform(reg.R, reg.t)

    # Stable: among equal scores the first edge wins, whatever the machine's sort kernel
    # (with every confidence 10 all scores tie; an unstable SIMD argsort reorders them).
    order = np.argsort(-scores, kind='stable')
    for e in order.tolist():
        i = int(problem.edges[e, 0])
        if focals[i] is None:
            focals[i] = _focal_of(problem, e)
    for n in range(N):
        if focals[n] is None:  # frame only ever second in its edges
            focals[n] = float(np.median([f for f in focals if f is not None]))

    pnp_frames = []
    h, w = problem.shape
    for n in range(N):
        if poses[n] is not None:
            continue
        pnp_frames.append(n)
        mask = (problem.im_conf[n] > problem.min_conf_thr).reshape(h, w)
        if problem.intrinsics is None:
            found = pnp_camera_pose(pts[n].reshape(h, w, 3), mask, [focals[n]],
                                    problem.principal_point, niter_pnp)
        else:
            intr = problem.intrinsics
            found = pnp_camera_pose(pts[n].reshape(h, w, 3), mask, [intr.fx[n]],
                                    (intr.cx[n], intr.cy[n]), niter_pnp,
                                    fy_over_fx=intr.fy[n] / intr.fx[n])
        if found is not None:
            focals[n], poses[n] = found
        else:
            poses[n] = np.eye(4)
    return TreeInit(pts_world=np.stack(pts), T_world_cam=np.stack(poses),
                    focals=np.asarray(focals, dtype=np.float64),
                    tree_edges=np.asarray(tree_edges, dtype=np.int64),
                    pnp_frames=np.asarray(pnp_frames, dtype=np.int64))
