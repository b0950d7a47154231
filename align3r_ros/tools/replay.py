"""``align3r-replay``: a recorded bag through Align3R into a bag of the node's outputs.

    align3r-replay INPUT -o OUTPUT [--config FILE] [--image-topic T] [--camera-info-topic T]
        [--prior-topic T] [--mode streaming|offline] [--storage sqlite3|mcap] [--gt-depth-topic T]
        [--gt-pose-topic T | --gt-tf-frame F] [--report DIR] [--quiet] [config flags...]

The config flags are those of the node's parameters (``--pairwise-backend oracle``,
``--preprocess-long-side 128``, ...) on top of the same YAML parameter file the node takes.
Exit status: 0 on success, 1 when nothing useful could be produced (one-line error on stderr),
2 for bad command-line usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from align3r_ros.config_io import add_config_arguments, config_from_args
from align3r_ros.errors import Align3rError


def build_parser() -> argparse.ArgumentParser:
    from align3r_ros.bag.replay import ReplayMode
    from align3r_ros.bag.writer import Storage
    from align3r_ros.evaluation.depth_metrics import DepthAlignment

    parser = argparse.ArgumentParser(
        prog='align3r-replay', description='Replay a rosbag (rosbag2 sqlite3/mcap or ROS 1) '
        'through Align3R and write the node\'s outputs to a new rosbag2.')
    parser.add_argument('input', help='input bag: rosbag2 directory, .db3/.mcap file or .bag')
    parser.add_argument('-o', '--output', required=True, help='output rosbag2 directory '
                        '(must not exist)')
    parser.add_argument('--config', help='ROS parameter YAML (the node\'s params file)')
    parser.add_argument('--image-topic', help='image topic (found automatically when the bag '
                        'has only one)')
    parser.add_argument('--camera-info-topic', help='CameraInfo topic (default: the image\'s '
                        'sibling camera_info, or the only one)')
    parser.add_argument('--prior-topic', help='depth Image used as the prior (16UC1 mm or '
                        '32FC1 m, e.g. an RGB-D camera; the node\'s prior/depth); associated '
                        'to images by stamp; units per prior.kind with --prior-backend external')
    parser.add_argument('--mode', choices=[m.value for m in ReplayMode],
                        default=ReplayMode.STREAMING.value, help='streaming (as the node, '
                        'default) or offline (hierarchical alignment of the whole bag)')
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
    parser.add_argument('--report', help='folder for report.json, report.md and plots')
    parser.add_argument('--eval-alignment', choices=[a.value for a in DepthAlignment],
                        default=DepthAlignment.L1_SCALE_SHIFT.value,
                        help='depth alignment before the metrics (default l1: the paper)')
    parser.add_argument('--depth-max', type=float, default=70.0, help='depth cap of the '
                        'metrics in metres (default 70)')
    parser.add_argument('--eval-max-frames', type=int, default=150, help='depth frames held '
                        'for the metrics (evenly thinned beyond; default 150)')
    parser.add_argument('--no-rectify', action='store_true', help='use images as recorded '
                        'even when CameraInfo has distortion')
    parser.add_argument('--quiet', action='store_true', help='no progress bar or summary')
    add_config_arguments(parser)
    return parser


def _summary(outcome) -> str:
    from align3r_ros.evaluation.report import report_to_dict

    document = report_to_dict(outcome.report)
    parts = [f'{document["frames"]} frames', f'{document["timing"]["ms_per_frame"] or 0:.1f} '
             'ms/frame', 'metric' if document['metric_scale'] else 'relative scale']
    if 'depth' in document:
        parts.append(f'AbsRel {document["depth"]["abs_rel"]:.4f} '
                     f'δ<1.25 {document["depth"]["delta_1_25"]:.4f}')
    if 'pose' in document:
        pose = document['pose']
        parts.append(f'pose skipped: {pose["skipped"]}' if pose.get('skipped') else
                     f'ATE {pose["ate"]:.4f} RPE-t {pose["rpe_trans"]:.4f} '
                     f'RPE-r {pose["rpe_rot_deg"]:.3f}°')
    return ', '.join(parts)


def main(argv: Optional[List[str]] = None) -> int:
    from align3r_ros.bag.replay import ReplayMode, ReplayOptions, run_replay
    from align3r_ros.bag.writer import Storage
    from align3r_ros.evaluation.depth_metrics import DepthAlignment
    from align3r_ros.evaluation.report import write_report

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s')
    progress_bar = None
    try:
        config = config_from_args(args, args.config)
        options = ReplayOptions(
            input=Path(args.input), output=Path(args.output), config=config,
            mode=ReplayMode(args.mode), storage=Storage(args.storage),
            image_topic=args.image_topic, camera_info_topic=args.camera_info_topic,
            prior_topic=args.prior_topic,
            gt_depth_topic=args.gt_depth_topic, gt_pose_topic=args.gt_pose_topic,
            gt_tf_frame=args.gt_tf_frame, rectify=not args.no_rectify,
            eval_alignment=DepthAlignment(args.eval_alignment), depth_max=args.depth_max,
            eval_max_frames=args.eval_max_frames)
        progress = None
        if not args.quiet:
            from tqdm import tqdm

            def progress(done: int, total: int) -> None:
                nonlocal progress_bar
                if progress_bar is None:
                    progress_bar = tqdm(total=total, unit='frame', desc='replay',
                                        dynamic_ncols=True)
                progress_bar.update(done - progress_bar.n)
        outcome = run_replay(options, progress=progress)
        if progress_bar is not None:
            progress_bar.close()
        if args.report:
            write_report(Path(args.report), outcome.report)
    except Align3rError as error:
        if progress_bar is not None:
            progress_bar.close()
        print(f'align3r-replay: error: {error}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('align3r-replay: interrupted; no output bag was written', file=sys.stderr)
        return 130
    if not args.quiet:
        for warning in outcome.report.warnings:
            print(f'align3r-replay: warning: {warning}', file=sys.stderr)
        print(f'align3r-replay: wrote {args.output}: {_summary(outcome)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
