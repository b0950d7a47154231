"""Turn optimised parameters into an :class:`AlignmentResult` (anchors restored exactly)."""

from __future__ import annotations

import numpy as np
import torch

from align3r_ros.align.objective import ObjectiveData, camera_poses, depth_maps, intrinsics
from align3r_ros.align.params import AlignmentParams, pair_matrices, pair_scales
from align3r_ros.align.problem import AlignmentProblem
from align3r_ros.align.result import AlignmentResult
from align3r_ros.errors import AlignmentError


def read_result(params: AlignmentParams, data: ObjectiveData, problem: AlignmentProblem,
                loss: float, iterations: int, seconds: float) -> AlignmentResult:
    """Explicit state of ``params``; raises AlignmentError when anything is non-finite.

    The output boundary of a solve: the only device-to-host copy (the result is numpy).
    """
    h, w = problem.shape
    N = problem.num_frames

    def host(x: torch.Tensor) -> np.ndarray:
        return x.double().cpu().numpy()

    with torch.no_grad():
        T = host(camera_poses(params, data))
        depth = host(depth_maps(params, data))
        fx, fy, cx, cy = (host(x) for x in intrinsics(params, data))
        T_pair = host(pair_matrices(params.pw_pose, problem.pin_scale))
        scale = host(pair_scales(params.pw_pose, problem.pin_scale))
    anchors = problem.anchors
    T = np.where(anchors.pose_mask[:, None, None], anchors.T_world_cam, T)
    depth = np.where(anchors.depth_mask[:, None], anchors.depth, depth)
    K = np.zeros((N, 3, 3))
    K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = fx, fy, cx, cy, 1.0
    if problem.intrinsics is not None:
        intr = problem.intrinsics
        K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2] = intr.fx, intr.fy, intr.cx, intr.cy
    for name, arr in (('T_world_cam', T), ('depth', depth), ('K', K),
                      ('T_world_pair', T_pair), ('pw_scale', scale)):
        if not np.isfinite(arr).all():
            raise AlignmentError(f'alignment diverged: non-finite {name}')
    if not np.isfinite(loss):
        raise AlignmentError(f'alignment diverged: loss {loss}')
    return AlignmentResult(
        T_world_cam=T, depth=depth.reshape(N, h, w).astype(np.float32), K=K,
        confidence=problem.im_conf.reshape(N, h, w).astype(np.float32), pw_scale=scale,
        T_world_pair=T_pair, loss=float(loss), iterations=int(iterations),
        seconds=float(seconds), device=str(params.log_depth.device))
