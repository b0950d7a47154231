"""``align3r-eval``: video depth and camera pose on benchmark datasets with the paper's protocols.

    align3r-eval --dataset tum|bonn|sintel|7scenes ROOT [--sequences NAME ...] [--frames N]
        [--start S] [--stride K] [--mode offline|streaming] [--output DIR] [config flags...]

Per sequence: the protocol's frames (Bonn 30–139, TUM 30–79, Sintel all ≤ 50, 7-Scenes all,
unless ``--start``/``--frames`` say otherwise) through the engine, then depth metrics after one
L1 scale-and-shift per sequence (cap 70 m) and ATE / RPE after Sim(3). Per dataset: depth
averaged with valid-pixel weights, poses averaged over the sequences that were not skipped.
Writes ``eval.json`` (and one report folder per sequence) into ``--output`` when given.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import List, Optional

from align3r_ros.config_io import add_config_arguments, config_from_args
from align3r_ros.errors import Align3rError


def build_parser() -> argparse.ArgumentParser:
    from align3r_ros.evaluation.datasets import DatasetKind
    from align3r_ros.evaluation.depth_metrics import DepthAlignment

    parser = argparse.ArgumentParser(prog='align3r-eval', description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', required=True, choices=[k.value for k in DatasetKind])
    parser.add_argument('root', help='dataset root (or one sequence folder)')
    parser.add_argument('--sequences', nargs='+', help='sequence names (default: all)')
    parser.add_argument('--frames', type=int, help='frames per sequence (default: protocol)')
    parser.add_argument('--start', type=int, help='first frame (default: protocol)')
    parser.add_argument('--stride', type=int, default=1, help='keep every K-th frame')
    parser.add_argument('--mode', choices=['offline', 'streaming'], default='offline',
                        help='offline hierarchical alignment (the paper, default) or the '
                             'streaming engine')
    parser.add_argument('--eval-alignment', choices=[a.value for a in DepthAlignment],
                        default=DepthAlignment.L1_SCALE_SHIFT.value)
    parser.add_argument('--depth-max', type=float, default=70.0)
    parser.add_argument('--output', help='folder for eval.json and per-sequence reports')
    parser.add_argument('--config', help='ROS parameter YAML (the node\'s params file)')
    parser.add_argument('--quiet', action='store_true')
    add_config_arguments(parser)
    return parser


def run_engine(frames, config, mode: str):
    """Results for ``frames`` (offline: align_sequence; streaming: push + flush)."""
    from align3r_ros.engine import Engine, align_sequence
    from align3r_ros.runtime import configure_runtime

    configure_runtime(config.runtime)
    if mode == 'offline':
        return align_sequence(list(frames), config)
    engine = Engine.from_config(config)
    results = []
    for frame in frames:
        results += engine.push(frame)
    return results + engine.flush()


def evaluate_sequence(data, config, mode: str, alignment, depth_max: float):
    """(RunReport, seconds) for one loaded sequence."""
    from align3r_ros.evaluation.collector import EvaluationCollector
    from align3r_ros.evaluation.report import RunReport

    start = time.perf_counter()
    results = run_engine(data.frames, config, mode)
    total_s = time.perf_counter() - start
    by_stamp = {int(f.stamp_ns): f for f in data.frames}
    collector = EvaluationCollector(alignment, depth_max,
                                    max_depth_frames=max(2, len(data.frames) + 1))
    for result in results:
        frame = by_stamp.get(int(result.stamp_ns))
        if frame is not None:
            collector.add(result, frame)
    evaluation = collector.evaluate() if results else None
    return RunReport(frames=len(results), metric_scale=bool(results) and all(
        r.is_metric for r in results), total_s=total_s, evaluation=evaluation,
        alignment=alignment, depth_max=depth_max, source=data.name,
        settings=(('mode', mode), ('pairwise backend', config.pairwise.backend.value)),
        warnings=data.warnings)


def _dataset_summary(reports) -> dict:
    from align3r_ros.evaluation.depth_metrics import average_depth_metrics
    from align3r_ros.evaluation.pose_metrics import average_pose_metrics
    from align3r_ros.evaluation.report import pose_section

    depth = [r.evaluation.depth for r in reports if r.evaluation and r.evaluation.depth]
    poses = [r.evaluation.pose for r in reports if r.evaluation and r.evaluation.pose]
    summary = {'sequences': len(reports)}
    if depth:
        average = average_depth_metrics(depth)
        summary['depth'] = {k: getattr(average, k) for k in (
            'abs_rel', 'sq_rel', 'rmse', 'log_rmse', 'delta_1_25', 'delta_1_25_2',
            'delta_1_25_3', 'valid_pixels')}
        summary['depth']['weighting'] = 'valid pixels'
    if poses:
        mean = average_pose_metrics(poses)
        summary['pose'] = pose_section(mean)
        summary['pose']['sequences_used'] = mean.n_poses
        summary['pose']['sequences_skipped'] = [r.source for r in reports if r.evaluation and
                                                r.evaluation.pose and not r.evaluation.pose.ok]
        del summary['pose']['poses']
    return summary


def main(argv: Optional[List[str]] = None) -> int:
    from align3r_ros.evaluation.datasets import DatasetKind, list_sequences, load_sequence
    from align3r_ros.evaluation.depth_metrics import DepthAlignment
    from align3r_ros.evaluation.report import report_to_dict, write_report

    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args, args.config)
        kind = DatasetKind(args.dataset)
        folders = list_sequences(kind, Path(args.root))
        if args.sequences:
            missing = sorted(set(args.sequences) - {f.name for f in folders})
            if missing:
                raise Align3rError(f'sequence(s) {", ".join(missing)} not found; available: '
                                   f'{", ".join(f.name for f in folders)}')
            folders = [f for f in folders if f.name in args.sequences]
        reports = []
        for folder in folders:
            data = load_sequence(kind, folder, start=args.start, frames=args.frames,
                                 stride=args.stride)
            report = evaluate_sequence(data, config, args.mode,
                                       DepthAlignment(args.eval_alignment), args.depth_max)
            reports.append(report)
            if args.output:
                write_report(Path(args.output) / data.name, report)
            if not args.quiet:
                print(_line(data.name, report_to_dict(report)))
    except Align3rError as error:
        print(f'align3r-eval: error: {error}', file=sys.stderr)
        return 1
    summary = {'dataset': kind.value, 'mode': args.mode,
               'per_sequence': {r.source: report_to_dict(r) for r in reports},
               'average': _dataset_summary(reports)}
    if args.output:
        Path(args.output).mkdir(parents=True, exist_ok=True)
        (Path(args.output) / 'eval.json').write_text(json.dumps(summary, indent=2) + '\n',
                                                     encoding='utf-8')
    if not args.quiet:
        print(_line(f'{kind.value} (average)', summary['average']))
    return 0


def _line(name: str, document: dict) -> str:
    parts = [name]
    depth, pose = document.get('depth'), document.get('pose')
    if depth:
        parts.append(f'AbsRel {depth["abs_rel"]:.4f} δ<1.25 {depth["delta_1_25"]:.4f}')
    if pose:
        parts.append(f'pose skipped ({pose["skipped"]})' if pose.get('skipped') else
                     f'ATE {pose["ate"]:.4f} RPE-t {pose["rpe_trans"]:.4f} '
                     f'RPE-r {pose["rpe_rot_deg"]:.3f}')
    return '  '.join(parts)


if __name__ == '__main__':
    sys.exit(main())
