"""``align3r-replay``: a recorded bag through Align3R into a bag of the node's outputs.

    align3r-replay INPUT -o OUTPUT [--config FILE] [--image-topic T] [--camera-info-topic T]
        [--prior-topic T] [--mode streaming|offline] [--storage sqlite3|mcap] [--gt-depth-topic T]
        [--gt-pose-topic T | --gt-tf-frame F]
        [--odometry-topic T | --odometry-tf-frame F [--odometry-parent-frame P]]
        [--report DIR] [--trajectory FILE] [--quiet]
        [config flags...]

The config flags are those of the node's parameters (``--pairwise-backend oracle``,
``--preprocess-long-side 128``, ...) on top of the same YAML parameter file the node takes.
Exit status: see ``--help`` (:class:`~align3r_ros.tools.cli.ExitCode`); 1 also when no frame
produced a valid result. Output locations are checked before any work.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from align3r_ros.config_io import add_config_arguments, config_from_args
from align3r_ros.tools import cli


def build_parser() -> argparse.ArgumentParser:
    from align3r_ros.bag.writer import Storage
    from align3r_ros.config import EvaluationConfig, RunMode
    from align3r_ros.evaluation.depth_metrics import DepthAlignment

    defaults = EvaluationConfig()

    parser = argparse.ArgumentParser(
        prog='align3r-replay', description='Replay a rosbag (rosbag2 sqlite3/mcap or ROS 1) '
        'through Align3R and write the node\'s outputs to a new rosbag2.')
    parser.add_argument('input', help='input bag: rosbag2 directory, .db3/.mcap file or .bag')
    parser.add_argument('-o', '--output', required=True, help='output rosbag2 directory (an '
                        'existing one needs --force)')
    parser.add_argument('--config', help='ROS parameter YAML (the node\'s params file)')
    parser.add_argument('--image-topic', help='image topic (found automatically when the bag '
                        'has only one)')
    parser.add_argument('--camera-info-topic', help='CameraInfo topic (default: the image\'s '
                        'sibling camera_info, or the only one)')
    parser.add_argument('--prior-topic', help='depth Image used as the prior (16UC1 mm or '
                        '32FC1 m, e.g. an RGB-D camera; the node\'s prior/depth); associated '
                        'to images by stamp; units per prior.kind with --prior-backend external')
    parser.add_argument('--mode', choices=[m.value for m in RunMode],
                        default=defaults.replay_mode.value, help='streaming (as the node, '
                        f'default {defaults.replay_mode.value}) or offline (hierarchical '
                        'alignment of the whole bag)')
    parser.add_argument('--storage', choices=[s.value for s in Storage],
                        default=Storage.SQLITE3.value, help='output storage (default sqlite3, '
                        'rosbag2 metadata version 8: Humble and Jazzy read it)')
    parser.add_argument('--gt-depth-topic', help='ground-truth depth Image (16UC1 mm or '
                        '32FC1 m)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--gt-pose-topic', help='ground-truth camera pose (PoseStamped, '
                       'Odometry, TransformStamped)')
    group.add_argument('--gt-tf-frame', help='ground-truth camera pose as the /tf transform '
                       'to this child frame')
    odometry = parser.add_mutually_exclusive_group()
    odometry.add_argument('--odometry-topic', help='robot odometry for metric scale and drift: '
                          'nav_msgs/Odometry (child frame the base or the camera; the mounting '
                          'from /tf_static) or geometry_msgs/PoseStamped (of the image frame)')
    odometry.add_argument('--odometry-tf-frame', help='robot odometry as the /tf transform '
                          '--odometry-parent-frame -> this child frame (base or camera)')
    parser.add_argument('--odometry-parent-frame', help='odometry frame of --odometry-tf-frame '
                        '(default: frames.odom_frame)')
    parser.add_argument('--report', help='folder for report.json, report.md and plots (an '
                        'existing one needs --force)')
    parser.add_argument('--trajectory', help='TUM file of the camera poses in the world '
                        'frame (stamp tx ty tz qx qy qz qw; stamps in seconds, the input '
                        'images\'; an existing one needs --force), for evo')
    parser.add_argument('--eval-alignment', choices=[a.value for a in DepthAlignment],
                        default=DepthAlignment.L1_SCALE_SHIFT.value,
                        help='depth alignment before the metrics (default l1: the paper)')
    parser.add_argument('--depth-max', type=cli.positive_float, default=defaults.depth_max,
                        help=f'depth cap of the metrics in metres (default '
                        f'{defaults.depth_max:g})')
    parser.add_argument('--eval-max-frames', type=cli.positive_int,
                        default=defaults.max_depth_frames,
                        help='depth frames held for the metrics (evenly thinned beyond; '
                        f'default {defaults.max_depth_frames})')
    parser.add_argument('--no-rectify', action='store_true', help='use images as recorded '
                        'even when CameraInfo has distortion')
    parser.add_argument('--quiet', action='store_true', help='no progress bars or summary')
    cli.add_tool_arguments(parser, epilog=cli.exit_codes_epilog(
        'an error (one line on stderr; --debug shows the traceback), or no frame produced a '
        'valid result'))
    add_config_arguments(parser)
    return parser


def summary_line(outcome) -> str:
    """One line: frames, speed, scale and the metrics the run had ground truth for."""
    report = outcome.report
    parts = [f'{report.frames} frames', f'{report.ms_per_frame:.1f} ms/frame',
             'metric' if report.metric_scale else 'relative scale']
    evaluation = report.evaluation
    if evaluation is not None and evaluation.depth is not None:
        parts.append(f'AbsRel {evaluation.depth.abs_rel:.4f} '
                     f'δ<1.25 {evaluation.depth.delta_1_25:.4f}')
    if evaluation is not None and evaluation.pose is not None:
        pose = evaluation.pose
        parts.append(f'pose skipped: {pose.skipped}' if pose.skipped else
                     f'ATE {pose.ate:.4f} RPE-t {pose.rpe_trans:.4f} '
                     f'RPE-r {pose.rpe_rot_deg:.3f}°')
    return ', '.join(parts)


def replay_with_progress(options, quiet: bool, wrap_engine=None):
    """:func:`~align3r_ros.tools.replay_run.run_replay` with progress bars: per frame
    (streaming), per frame read then per offline stage (offline); log records go through the
    bars. ``quiet`` shows none. ``wrap_engine``: engine -> the engine the replay drives (the
    demo hands its rendered masks to the oracle this way); None drives the engine itself."""
    from align3r_ros.tools.progress import Progress
    from align3r_ros.tools.replay_run import default_engine_factory, run_replay

    with Progress('align3r-replay', quiet) as progress:
        factory = None
        if wrap_engine is not None:
            build = default_engine_factory(options.mode, progress.stage)

            def factory(config):
                return wrap_engine(build(config))
        return run_replay(options, engine_factory=factory, progress=lambda done, total:
                          progress.frames(done, total, 'replay'), on_stage=progress.stage,
                          on_flush=lambda: progress.note('aligning the frames still held'))


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: :class:`~align3r_ros.tools.cli.ExitCode` (1 also when no frame produced a
    valid result)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.odometry_parent_frame and not args.odometry_tf_frame:
        parser.error('--odometry-parent-frame needs --odometry-tf-frame')
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s')
    outputs = [cli.OutputLocation(Path(args.output), cli.OutputKind.FOLDER, '-o')]
    if args.report:
        outputs.append(cli.OutputLocation(Path(args.report), cli.OutputKind.FOLDER, '--report'))
    if args.trajectory:
        outputs.append(cli.OutputLocation(Path(args.trajectory), cli.OutputKind.FILE,
                                          '--trajectory'))
    return cli.run_tool('align3r-replay', lambda: _replay(args), debug=args.debug,
                        outputs=outputs, force=args.force)


def _odometry_spec(args: argparse.Namespace, config):
    """The ``--odometry-*`` flags as an :class:`~align3r_ros.bag.odometry.OdometrySpec`, or
    None."""
    from align3r_ros.bag.odometry import OdometrySpec

    if not (args.odometry_topic or args.odometry_tf_frame):
        return None
    return OdometrySpec(topic=args.odometry_topic, tf_frame=args.odometry_tf_frame,
                        parent_frame=args.odometry_parent_frame or config.frames.odom_frame)


def _replay(args: argparse.Namespace) -> int:
    from align3r_ros.bag.writer import Storage, set_aside, staged
    from align3r_ros.config import RunMode
    from align3r_ros.evaluation.dataset_files import write_tum_trajectory
    from align3r_ros.evaluation.depth_metrics import DepthAlignment
    from align3r_ros.evaluation.report import write_report
    from align3r_ros.runtime import configure_runtime
    from align3r_ros.tools.replay_run import ReplayOptions

    config = config_from_args(args, args.config)
    configure_runtime(config.runtime)
    options = ReplayOptions(
        input=Path(args.input), output=Path(args.output), config=config,
        mode=RunMode(args.mode), storage=Storage(args.storage),
        image_topic=args.image_topic, camera_info_topic=args.camera_info_topic,
        prior_topic=args.prior_topic,
        gt_depth_topic=args.gt_depth_topic, gt_pose_topic=args.gt_pose_topic,
        gt_tf_frame=args.gt_tf_frame, rectify=not args.no_rectify,
        eval_alignment=DepthAlignment(args.eval_alignment), depth_max=args.depth_max,
        eval_max_frames=args.eval_max_frames, odometry=_odometry_spec(args, config))
    with set_aside(Path(args.output), enabled=args.force):  # --force: back if the run fails
        outcome = replay_with_progress(options, args.quiet)
    if args.report:
        with staged(Path(args.report), overwrite=args.force) as report_dir:
            write_report(report_dir, outcome.report)
    if args.trajectory:
        with staged(Path(args.trajectory), overwrite=args.force) as trajectory_file:
            write_tum_trajectory(trajectory_file, outcome.trajectory)
    if not args.quiet:
        for warning in outcome.report.warnings:
            print(f'align3r-replay: warning: {warning}', file=sys.stderr)
        print(f'align3r-replay: wrote {args.output}: {summary_line(outcome)}')
    cli.check_results(outcome.report, outcome.frames_with_depth,
                      outcome.statuses_without_depth)
    return cli.ExitCode.OK


if __name__ == '__main__':
    sys.exit(main())
