"""Compare ``solver: adam`` (300 iterations) with ``solver: fast`` on the synthetic problem.

Usage: python test/align/solver_comparison.py [--frames 30] [--threads 1]
Prints one JSON object (time, depth Abs Rel, ATE and ATE % of trajectory per solver, ratio).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # test/, for support (a script)

from align3r_ros.align import align_pairs  # noqa: E402
from align3r_ros.config import AlignConfig, RuntimeConfig  # noqa: E402
from align3r_ros.runtime import configure_runtime  # noqa: E402
from support.align_problem import ate, depth_abs_rel, make_problem, trajectory_length  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--solvers', default='fast,adam')
    args = parser.parse_args()
    configure_runtime(RuntimeConfig(threads=args.threads))
    problem = make_problem(num_frames=args.frames)
    length = trajectory_length(problem.gt_T_world_cam)
    out = {'frames': args.frames, 'edges': int(problem.predictions.num_edges),
           'threads': args.threads}
    for solver in args.solvers.split(','):
        config = AlignConfig(solver=solver, temporal_weight=0.0)
        result = align_pairs(problem.predictions, config)
        err = ate(result.T_world_cam, problem.gt_T_world_cam)
        out[solver] = {'seconds': round(result.seconds, 3), 'loss': result.loss,
                       'abs_rel': depth_abs_rel(result.depth, problem.gt_depth),
                       'ate': err, 'ate_percent_of_length': 100 * err / length,
                       'focal': float(result.K[:, 0, 0].mean()),
                       'focal_gt': float(problem.K[0, 0, 0])}
    if 'fast' in out and 'adam' in out:
        out['time_ratio_adam_over_fast'] = out['adam']['seconds'] / out['fast']['seconds']
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
