"""Alignment benchmark: solvers, flat vs hierarchical vs streaming, and a streaming soak.

    align3r-bench align [--quick] [--threads 1] [--seed 0] [--out FILE]

Prints JSON with three parts (oracle backend, synthetic scenes with ground truth, 2 % noise,
random per-pair scales in [0.5, 2]):

1. ``solvers``: ``adam`` (300 iterations) and ``fast`` on a rigid 30-frame 64x112 problem with
   a symmetric, non-cyclic sliding window of 5 (270 directed edges): seconds, ATE (% of the
   trajectory length, after Sim(3)), depth Abs Rel (median-scaled), peak RSS, time ratio.
   Reference point (the official optimiser on such a problem, same machine class): 53 s,
   ATE 0.46 %, Abs Rel 0.0014, peak RSS 0.96 GB.
2. ``modes``: flat vs hierarchical vs streaming at N = 30, 60, 120, 240 frames of 48x64 with
   one moving object: seconds, peak RSS and its growth during the run, errors.
3. ``soak``: 2000 frames of 48x64 streamed: mean per-clip time of the first and last 10 % of
   clips, RSS at frames 200 and 2000 (targets: ratio <= 1.2, growth <= 5 %).

``--quick`` shrinks every part (for a smoke run). Memory: Linux VmHWM / VmRSS of a fresh
process per case (see :mod:`align3r_ros.benchmarks.align_cases`).
"""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Optional, Sequence

from align3r_ros.benchmarks.align_cases import isolated, mode_case, soak_case, solver_case
from align3r_ros.benchmarks.report import emit_report

OFFICIAL = {'seconds': 53.0, 'ate_percent_of_length': 0.46, 'abs_rel_median_scaled': 0.0014,
            'peak_rss_gb': 0.96}


def run(quick: bool, threads: int, seed: int) -> dict:
    solver_size = (12, 48, 64) if quick else (30, 64, 112)
    mode_sizes = (20, 40) if quick else (30, 60, 120, 240)
    soak_frames = 300 if quick else 2000
    solvers = {name: isolated(solver_case, threads, solver=name, num_frames=solver_size[0],
                              height=solver_size[1], width=solver_size[2], seed=seed)
               for name in ('adam', 'fast')}
    ratio = solvers['adam'].get('seconds', float('nan')) / solvers['fast'].get('seconds',
                                                                                float('nan'))
    modes = [isolated(mode_case, threads, mode=mode, num_frames=n, height=48, width=64,
                      seed=seed)
             for n in mode_sizes for mode in ('flat', 'hierarchical', 'streaming')]
    soak = isolated(soak_case, threads, num_frames=soak_frames, height=48, width=64, seed=seed)
    return {
        'benchmark': 'align', 'quick': quick, 'torch_threads': threads, 'seed': seed,
        'machine': {'python': platform.python_version(), 'processor': platform.machine()},
        'memory_measure': 'Linux VmHWM (peak RSS) of a fresh process per case; growth = peak '
                          'minus RSS just before the measured call',
        'solvers': {'problem': {'frames': solver_size[0], 'size': list(solver_size[1:]),
                                'graph': 'sliding_window 5, symmetric, non-cyclic',
                                'noise': 0.02, 'pair_scale_range': [0.5, 2.0]},
                    'adam': solvers['adam'], 'fast': solvers['fast'],
                    'time_ratio_adam_over_fast': ratio, 'official_reference': OFFICIAL},
        'modes': modes,
        'soak': soak,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='align3r-bench align', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='small sizes (smoke run)')
    parser.add_argument('--threads', type=int, default=1, help='torch threads per case')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the JSON here')
    args = parser.parse_args(argv)
    emit_report(run(args.quick, args.threads, args.seed), args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
