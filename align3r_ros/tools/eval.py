"""``align3r-eval``: video depth and camera pose on benchmark datasets with the paper's protocols.

    align3r-eval --dataset tum|bonn|sintel|7scenes ROOT [--sequences NAME ...] [--frames N]
        [--start S] [--stride K] [--mode offline|streaming] [--output DIR]
        [--trajectory DIR|PATTERN] [config flags...]

Per sequence: the protocol's frames (Bonn 30–139, TUM 30–79, Sintel all ≤ 50, 7-Scenes all,
unless ``--start``/``--frames`` say otherwise) through the engine, then depth metrics after one
L1 scale-and-shift per sequence (cap 70 m) and ATE / RPE after Sim(3). Per dataset: depth
averaged with valid-pixel weights, poses averaged over the sequences that were not skipped.
Writes ``eval.json`` (and one report folder per sequence) into ``--output`` when given, and
one TUM trajectory file per sequence with ``--trajectory`` (``DIR/SEQUENCE.txt``, or a pattern
naming ``{sequence}``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

from align3r_ros.config import EvaluationConfig, RunMode
from align3r_ros.config_io import add_config_arguments, config_from_args
from align3r_ros.errors import Align3rError, AlignmentError
from align3r_ros.tools import cli

if TYPE_CHECKING:  # the tool imports numpy/torch-heavy modules only when it runs
    from align3r_ros.evaluation.depth_metrics import DepthAlignment, DepthMetrics
    from align3r_ros.evaluation.pose_metrics import PoseMetrics
    from align3r_ros.evaluation.report import RunReport
    from align3r_ros.structures import FrameResult
    from align3r_ros.tools.progress import Progress


def build_parser() -> argparse.ArgumentParser:
    from align3r_ros.evaluation.datasets import DatasetKind
    from align3r_ros.evaluation.depth_metrics import DepthAlignment

    defaults = EvaluationConfig()
    parser = argparse.ArgumentParser(prog='align3r-eval', description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', required=True, choices=[k.value for k in DatasetKind])
    parser.add_argument('root', help='dataset root (or one sequence folder)')
    parser.add_argument('--sequences', nargs='+', help='sequence names (default: all)')
    parser.add_argument('--frames', type=cli.positive_int,
                        help='frames per sequence (default: protocol)')
    parser.add_argument('--start', type=int, help='first frame (default: protocol)')
    parser.add_argument('--stride', type=cli.positive_int, default=1,
                        help='keep every K-th frame')
    parser.add_argument('--mode', choices=[m.value for m in RunMode],
                        default=defaults.eval_mode.value,
                        help='offline hierarchical alignment (the paper) or the streaming '
                             f'engine (default {defaults.eval_mode.value})')
    parser.add_argument('--eval-alignment', choices=[a.value for a in DepthAlignment],
                        default=DepthAlignment.L1_SCALE_SHIFT.value)
    parser.add_argument('--depth-max', type=cli.positive_float, default=defaults.depth_max,
                        help=f'depth cap of the metrics in metres (default '
                        f'{defaults.depth_max:g})')
    parser.add_argument('--output', help='folder for eval.json and per-sequence reports '
                        '(written when the run completes; an existing one needs --force)')
    parser.add_argument('--trajectory', metavar='DIR|PATTERN',
                        help='one TUM file of camera poses per sequence (stamp tx ty tz qx qy '
                        'qz qw, stamps of the input images in seconds), for evo: '
                        'DIR/SEQUENCE.txt, or a path with {sequence} in it; existing files '
                        'need --force')
    parser.add_argument('--config', help='ROS parameter YAML (the node\'s params file)')
    parser.add_argument('--quiet', action='store_true', help='no progress bars or summary')
    cli.add_tool_arguments(parser, epilog=cli.exit_codes_epilog(
        'an error (one line on stderr; --debug shows the traceback), or no sequence produced '
        'a valid result'))
    add_config_arguments(parser)
    return parser


def run_engine(frames, config, mode: RunMode, progress: Optional[Progress] = None,
               name: str = '') -> List[FrameResult]:
    """Results for ``frames`` through the one feed loop (offline: :class:`OfflineEngine`, the
    hierarchy; streaming: the node's :class:`Engine`), with per-frame and per-stage progress."""
    from align3r_ros.engine.engine import Engine
    from align3r_ros.engine.feed import OfflineEngine, collect_results

    on_stage = progress.stage if progress is not None else None
    engine = OfflineEngine(config, on_stage=on_stage) if mode is RunMode.OFFLINE \
        else Engine.from_config(config)
    total = len(frames)
    on_frame = (lambda done: progress.frames(done, total, name or 'frames')) \
        if progress is not None else None
    return collect_results(engine, frames, on_frame)


def trajectory_path(option: str, sequence: str) -> Path:
    """Where ``--trajectory`` puts a sequence's TUM file: the pattern with ``{sequence}``
    filled in, else ``option/SEQUENCE.txt``."""
    if '{sequence}' in option:
        return Path(option.replace('{sequence}', sequence))
    return Path(option) / f'{sequence}.txt'


def _check_trajectory_paths(paths: List[Path], force: bool) -> None:
    """Before any work: each TUM file is new (or --force) and not a folder."""
    for path in paths:
        if path.is_dir():
            raise Align3rError(f'--trajectory {path} is a folder; a file is written there')
        if path.exists() and not force:
            raise Align3rError(f'--trajectory {path} exists already; choose another path or '
                               'use --force')
        if path.parent.exists() and not path.parent.is_dir():
            raise Align3rError(f'--trajectory {path.parent} is not a folder')


def _write_trajectory(path: Path, results: List[FrameResult], force: bool) -> None:
    """The results' finite camera poses (world frame) as a TUM file, written atomically."""
    import numpy as np

    from align3r_ros.bag.writer import staged
    from align3r_ros.evaluation.dataset_files import Trajectory, write_tum_trajectory

    kept = [r for r in results if np.all(np.isfinite(r.T_world_cam))]
    trajectory = Trajectory(
        np.array([r.stamp_ns for r in kept], dtype=np.int64),
        np.stack([np.asarray(r.T_world_cam, np.float64) for r in kept]) if kept
        else np.zeros((0, 4, 4)))
    with staged(path, overwrite=force) as staging:
        write_tum_trajectory(staging, trajectory)


def evaluate_sequence(data, config, mode: RunMode, alignment: DepthAlignment, depth_max: float,
                      progress: Optional[Progress] = None,
                      trajectory: Optional[Path] = None, force: bool = False) -> RunReport:
    """The :class:`RunReport` of one loaded sequence (``total_s`` is the engine's time);
    with ``trajectory`` its camera poses are written there as a TUM file (``force``: an
    existing file is replaced)."""
    from align3r_ros.evaluation.collector import EvaluationCollector
    from align3r_ros.evaluation.report import (RunReport, metric_scale_causes,
                                              metric_scale_warning)

    start = time.perf_counter()
    frames = [dataclasses.replace(f, tag=f) for f in data.frames]
    results = run_engine(frames, config, mode, progress, data.name)
    total_s = time.perf_counter() - start
    collector = EvaluationCollector(alignment, depth_max,
                                    max_depth_frames=max(2, len(data.frames) + 1),
                                    conf_threshold=config.output.conf_threshold)
    for result in results:
        collector.add(result, result.tag)
    if trajectory is not None:
        _write_trajectory(trajectory, results, force)
    evaluation = collector.evaluate() if results else None
    metric_frames = sum(bool(r.is_metric) for r in results)
    causes = Counter(c for r in results if not r.is_metric for c in metric_scale_causes(r.status))
    scale_warning = metric_scale_warning(config.scale.metric, len(results), metric_frames, causes)
    return RunReport(frames=len(results), metric_scale=bool(results) and all(
        r.is_metric for r in results), total_s=total_s, evaluation=evaluation,
        alignment=alignment, depth_max=depth_max, source=data.name,
        settings=(('mode', mode.value), ('pairwise backend', config.pairwise.backend.value)),
        warnings=tuple(data.warnings) + ((scale_warning,) if scale_warning else ()),
        metric_frames=metric_frames)


def _line(name: str, depth: Optional[DepthMetrics], pose: Optional[PoseMetrics]) -> str:
    parts = [name]
    if depth is not None:
        parts.append(f'AbsRel {depth.abs_rel:.4f} δ<1.25 {depth.delta_1_25:.4f}')
    if pose is not None:
        parts.append(f'pose skipped ({pose.skipped})' if pose.skipped else
                     f'ATE {pose.ate:.4f} RPE-t {pose.rpe_trans:.4f} '
                     f'RPE-r {pose.rpe_rot_deg:.3f}')
    return '  '.join(parts)


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: :class:`~align3r_ros.tools.cli.ExitCode` (1 also when no sequence produced a
    valid result); ``--output`` appears only when the run completes."""
    args = build_parser().parse_args(argv)
    outputs = [cli.OutputLocation(Path(args.output), cli.OutputKind.FOLDER, '--output')] \
        if args.output else []
    return cli.run_tool('align3r-eval', lambda: _evaluate(args), debug=args.debug,
                        outputs=outputs, force=args.force)


def _evaluate(args: argparse.Namespace) -> int:
    import contextlib

    from align3r_ros.bag.writer import staged
    from align3r_ros.evaluation.datasets import DatasetKind, list_sequences, load_sequence
    from align3r_ros.evaluation.depth_metrics import DepthAlignment
    from align3r_ros.evaluation.report import (average_reports, average_to_dict,
                                               report_to_dict, write_report)
    from align3r_ros.runtime import configure_runtime
    from align3r_ros.tools.progress import Progress

    config = config_from_args(args, args.config)
    configure_runtime(config.runtime)
    kind = DatasetKind(args.dataset)
    folders = list_sequences(kind, Path(args.root))
    if args.sequences:
        missing = sorted(set(args.sequences) - {f.name for f in folders})
        if missing:
            raise Align3rError(f'sequence(s) {", ".join(missing)} not found; available: '
                               f'{", ".join(f.name for f in folders)}')
        folders = [f for f in folders if f.name in args.sequences]
    if args.trajectory:
        _check_trajectory_paths([trajectory_path(args.trajectory, f.name) for f in folders],
                                args.force)
    reports = []
    with contextlib.ExitStack() as stack:  # --output is staged: complete, or not there at all
        output = stack.enter_context(staged(Path(args.output), overwrite=args.force)) \
            if args.output else None
        if output is not None:
            output.mkdir()  # the staging folder claims the place from the start
        with Progress('align3r-eval', args.quiet) as progress:
            progress.sequences(0, len(folders))
            for folder in folders:
                data = load_sequence(kind, folder, start=args.start, frames=args.frames,
                                     stride=args.stride)
                report = evaluate_sequence(
                    data, config, RunMode(args.mode), DepthAlignment(args.eval_alignment),
                    args.depth_max, progress, force=args.force,
                    trajectory=trajectory_path(args.trajectory, data.name)
                    if args.trajectory else None)
                reports.append(report)
                progress.end_sequence()
                progress.sequences(len(reports), len(folders))
                if output is not None:
                    write_report(output / data.name, report)
                if not args.quiet:
                    progress.write(_line(data.name, report.depth, report.pose), stdout=True)
        average = average_reports(reports)
        summary = {'dataset': kind.value, 'mode': args.mode,
                   'per_sequence': {r.source: report_to_dict(r) for r in reports},
                   'average': average_to_dict(average)}
        if output is not None:
            output.mkdir(parents=True, exist_ok=True)
            (output / 'eval.json').write_text(json.dumps(summary, indent=2) + '\n',
                                              encoding='utf-8')
    if not args.quiet:
        print(_line(f'{kind.value} (average)', average.depth, average.pose))
    failed = []
    for report in reports:
        try:
            cli.check_results(report)
        except AlignmentError as error:
            failed.append(f'{report.source}: {error}')
    for line in failed:
        print(f'align3r-eval: warning: {line}', file=sys.stderr)
    if reports and len(failed) == len(reports):
        raise AlignmentError(f'no sequence produced a valid result ({len(failed)} failed)')
    return cli.ExitCode.OK


if __name__ == '__main__':
    sys.exit(main())
