"""Global alignment of pairwise point maps (spec §5): graph, problem, objective, init, solvers.

Public entry points: :func:`align_pairs`, :func:`alignment_residuals`, the pair graphs
:func:`make_pair_edges` / :func:`complete_edges`, and :class:`AlignmentResult`,
:class:`FrameAnchor`.

Gauge and anchors: without anchors the global scale is fixed as the reference does (geometric
mean of the pairwise scales pinned to 0.5). Anchored frames keep their pose (and depth when
given) exactly. When the anchors determine the scale — any anchor with a depth map, or two
anchors with distinct camera centres — the pin is dropped; with a single pose-only anchor the
pin stays and the world is scaled about that anchor's camera centre during initialisation.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from align3r_ros.align.graph import complete_edges, make_pair_edges
from align3r_ros.align.init_mst import mst_initialisation
from align3r_ros.align.init_params import init_from_points, init_from_result
from align3r_ros.align.objective import evaluate_loss, objective_data
from align3r_ros.align.optimise import run_adam
from align3r_ros.align.problem import build_problem
from align3r_ros.align.readout import read_result
from align3r_ros.align.residuals import alignment_residuals
from align3r_ros.align.result import AlignmentResult, FrameAnchor
from align3r_ros.config import AlignConfig, Solver
from align3r_ros.errors import AlignmentError
from align3r_ros.structures import PairPredictions

__all__ = ['AlignmentResult', 'FrameAnchor', 'align_pairs', 'alignment_residuals',
           'complete_edges', 'make_pair_edges']


def align_pairs(predictions: PairPredictions, config: AlignConfig, *,
                K_known: Optional[np.ndarray] = None, anchors: Sequence[FrameAnchor] = (),
                init: Optional[AlignmentResult] = None,
                pixel_weights: Optional[np.ndarray] = None,
                on_step: Optional[Callable[[int, float], None]] = None,
                device: Optional[torch.device] = None) -> AlignmentResult:
    """Globally align pairwise point maps into poses, depths and intrinsics.

    Args:
        predictions: E directed edges over N = max index + 1 frames sharing (h, w).
        config: solver, schedule, confidence mode, focal sharing, temporal weights.
        K_known: (N, 3, 3) intrinsics at (h, w); focal and principal point are then fixed.
        anchors: frames whose pose (and depth, when given) are held fixed.
        init: warm start (poses, depths, K of a previous result for the same N, h, w);
            skips the MST initialisation.
        pixel_weights: (N, h, w) factors in [0, 1] multiplying the loss weights of each
            frame's pixels (dynamic-mask down-weighting).
        on_step: called with (iteration, loss) after each solver iteration.
        device: where the problem tensors and the solver live (None: cpu). The problem is
            validated and initialised on the host (NumPy, OpenCV PnP), copied to the device
            once, solved there, and copied back once into the (numpy) result. Resolve
            ``runtime.device`` with :func:`align3r_ros.runtime.resolve_device`.

    Returns:
        The :class:`AlignmentResult`.

    Raises:
        InputError: inconsistent inputs. AlignmentError: a degenerate problem or divergence.
    """
    try:
        return _align_pairs(predictions, config, K_known, anchors, init, pixel_weights, on_step,
                            device)
    except torch.linalg.LinAlgError as error:
        # A singular system (e.g. every point behind the camera, so no finite focal) is a
        # degenerate problem, not a crash: callers catch AlignmentError and fall back.
        raise AlignmentError(f'degenerate alignment problem: {error}') from error


def _align_pairs(predictions, config, K_known, anchors, init, pixel_weights, on_step, device):
    start = time.perf_counter()
    problem = build_problem(predictions, config, K_known=K_known, anchors=anchors,
                            pixel_weights=pixel_weights)
    dtype = torch.float32
    data = objective_data(problem, dtype, device)
    if init is not None:
        params = init_from_result(problem, init, dtype=dtype, device=device)
    else:
        tree = mst_initialisation(problem)
        params = init_from_points(problem, tree.pts_world, tree.T_world_cam, tree.focals,
                                  dtype=dtype, device=device)
    if Solver(config.solver) == Solver.FAST:
        from align3r_ros.align.fast_solver import solve_fast
        iterations = solve_fast(params, data, problem, config, on_step=on_step)
    else:
        run_adam(params, data, config.iterations, config.lr, config.lr_min, config.schedule,
                 train_focal=problem.intrinsics is None, on_step=on_step)
        iterations = config.iterations
    with torch.no_grad():
        loss = float(evaluate_loss(params, data).total)
    return read_result(params, data, problem, loss, iterations, time.perf_counter() - start)
