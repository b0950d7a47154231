"""``align3r-demo``: the whole pipeline from a fresh clone — no data, no weights, no ROS.

    align3r-demo [-o DIR] [--frames N] [--seed S] [--mode streaming|offline] [--force] [--quiet]

1. renders a small dynamic scene with ground truth (:mod:`align3r_ros.synthetic`: a textured
   room, a moving sphere, a camera on a smooth path) and writes it as an input rosbag2
   (``DIR/input_bag``: image, CameraInfo, ground-truth depth and pose topics);
2. replays that bag through the real engine with the oracle backend (ground truth turned into
   noisy pairwise point maps) — the code path of ``align3r-replay`` — into an output rosbag2 of
   the node's topics (``DIR/output_bag``). The oracle also gets each frame's rendered mover mask
   by stamp (a bag cannot carry it; :class:`~align3r_ros.tools.oracle_mask.OracleMaskEngine`),
   so the mover's pairwise predictions disagree as a real network's would and the output's
   ``~/dynamic_mask/image`` shows it;
3. writes the report (``DIR/report``: report.json, report.md, trajectory, errors and depth-strip
   plots) and prints where everything is.

Everything is built in a staging folder beside ``DIR`` (``.DIR.partial-PID``) and renamed into
place when complete; Ctrl-C or an error leaves nothing behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from align3r_ros.config import EvaluationConfig, RunMode
from align3r_ros.config_io import load_config
from align3r_ros.synthetic.demo_scene import DemoScene
from align3r_ros.tools import cli

PROG = 'align3r-demo'


#: The engine settings of the demo on top of the config defaults: the oracle, small network size.
DEMO_OVERRIDES = {'pairwise': {'backend': 'oracle'}, 'preprocess': {'long_side': 64}}


def build_parser() -> argparse.ArgumentParser:
    scene = DemoScene()
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n')[0])
    parser.add_argument('-o', '--output', default='align3r_demo',
                        help='folder for input_bag/, output_bag/ and report/ (default '
                             'align3r_demo; must not exist unless --force)')
    parser.add_argument('--frames', type=cli.positive_int, default=scene.frames,
                        help=f'frames to render (INT, default {scene.frames})')
    parser.add_argument('--seed', type=int, default=scene.seed,
                        help=f'scene and camera-path seed (INT, default {scene.seed})')
    parser.add_argument('--mode', choices=[m.value for m in RunMode],
                        default=EvaluationConfig().replay_mode.value,
                        help='streaming (as the node) or offline (hierarchical), as '
                             'align3r-replay --mode')
    parser.add_argument('--quiet', action='store_true', help='no progress bars; only the '
                                                              'final lines')
    cli.add_tool_arguments(parser)
    return parser


def run_demo(output: Path, scene: DemoScene, mode: RunMode, quiet: bool) -> List[str]:
    """Render, write the input bag, replay it, write the report, all into ``output`` (new).

    Returns the lines that say where everything is.
    """
    from align3r_ros.bag.frames_to_bag import FramesBagOptions, write_frames_bag
    from align3r_ros.evaluation.report import write_report
    from align3r_ros.synthetic import iter_frames
    from align3r_ros.tools.replay import replay_with_progress, summary_line
    from align3r_ros.tools.replay_run import ReplayOptions

    bag_options = FramesBagOptions()
    input_bag, output_bag, report_dir = (output / 'input_bag', output / 'output_bag',
                                         output / 'report')
    from align3r_ros.tools.oracle_mask import OracleMaskEngine

    frames = list(iter_frames(scene.frames, scene.height, scene.width, seed=scene.seed,
                              num_movers=scene.movers))
    count = write_frames_bag(frames, input_bag, bag_options)
    masks = {int(f.stamp_ns): f.gt_dynamic_mask for f in frames}
    options = ReplayOptions(
        input=input_bag, output=output_bag, config=load_config(DEMO_OVERRIDES), mode=mode,
        gt_depth_topic=bag_options.gt_depth_topic, gt_pose_topic=bag_options.gt_pose_topic)
    outcome = replay_with_progress(options, quiet,
                                   wrap_engine=lambda engine: OracleMaskEngine(engine, masks))
    cli.check_results(outcome.report, outcome.frames_with_depth, outcome.statuses_without_depth)
    files = write_report(report_dir, outcome.report)
    return [f'{count} synthetic frames ({scene.width}x{scene.height}, one moving sphere, '
            f'ground truth) -> {input_bag}',
            f'replayed ({_mode_name(mode, options.config)}, oracle backend): '
            f'{summary_line(outcome)}',
            f'node outputs -> {output_bag}',
            f'report -> {report_dir / "report.md"} ({", ".join(f.name for f in files[2:])})']


def _mode_name(mode: RunMode, config) -> str:
    return f'streaming, {config.stream.mode.value} mode' if mode is RunMode.STREAMING \
        else mode.value


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: see :class:`align3r_ros.tools.cli.ExitCode` (and ``--help``)."""
    args = build_parser().parse_args(argv)
    output = Path(args.output)
    scene = DemoScene(frames=args.frames, seed=args.seed)
    location = cli.OutputLocation(output, cli.OutputKind.FOLDER, '-o')

    def work() -> int:
        from align3r_ros.bag.writer import staged
        from align3r_ros.runtime import configure_runtime

        configure_runtime(load_config(DEMO_OVERRIDES).runtime)
        with staged(output, overwrite=args.force) as staging:
            staging.mkdir()
            lines = run_demo(staging, scene, RunMode(args.mode), args.quiet)
        for line in lines:  # the paths as they are now, after the rename
            print(f'{PROG}: {line}'.replace(str(staging), str(output)))
        return cli.ExitCode.OK

    return cli.run_tool(PROG, work, debug=args.debug, outputs=[location], force=args.force)


if __name__ == '__main__':
    sys.exit(main())
