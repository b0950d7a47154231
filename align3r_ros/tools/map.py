"""``align3r-map``: fuse an output bag's depth and poses into a TSDF map (Open3D).

    align3r-map OUTPUT_BAG -o MAP_DIR [--apply-mask] [--voxel-size V] [--force]

Reads the depth images, their CameraInfo and the camera poses (the odometry topic, else the
TF tree) of a bag written by ``align3r-replay`` / ``align3r-demo`` or recorded from the node,
optionally leaves out the pixels of the dynamic mask topic, fuses them into a TSDF and writes
``MAP_DIR/mesh.ply``, ``points.ply`` (with normals), ``map.png`` (a headless matplotlib
projection of the points) and ``map.json`` (what was fused). Open3D is optional: without it
the tool says how to install it, in one line. The folder is built beside ``MAP_DIR`` and
renamed into place when complete; an error leaves nothing behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from align3r_ros.mapping.bag_source import TF_SOURCE, MapTopics
from align3r_ros.mapping.build import MapOptions
from align3r_ros.tools import cli

PROG = 'align3r-map'


def build_parser() -> argparse.ArgumentParser:
    defaults, topics = MapOptions(), MapTopics()
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n')[0])
    parser.add_argument('bag', help='an output bag (align3r-replay, align3r-demo, or a '
                                    'recording of the node)')
    parser.add_argument('-o', '--output', required=True,
                        help='folder for mesh.ply, points.ply, map.png, map.json (new, or '
                             'empty, unless --force)')
    parser.add_argument('--apply-mask', action='store_true',
                        help=f'leave out the dynamic mask\'s pixels ({topics.mask}); needed '
                             'for bags recorded without output.exclude_dynamic')
    parser.add_argument('--voxel-size', type=cli.positive_float, default=defaults.voxel_size,
                        help='voxel edge in the map\'s units (default: the scene\'s extent / '
                             f'{defaults.voxels_across})')
    parser.add_argument('--voxels-across', type=cli.positive_int,
                        default=defaults.voxels_across,
                        help=f'voxels along the scene\'s extent (default '
                             f'{defaults.voxels_across})')
    parser.add_argument('--min-weight', type=cli.non_negative_float,
                        default=defaults.min_weight,
                        help='frames that must observe a surface before it is kept (default '
                             f'{defaults.min_weight:g})')
    parser.add_argument('--depth-topic', default=topics.depth,
                        help=f'depth Image topic (default {topics.depth})')
    parser.add_argument('--camera-info-topic', default=topics.camera_info,
                        help=f'its CameraInfo topic (default {topics.camera_info})')
    parser.add_argument('--pose-topic', default=topics.pose,
                        help=f'camera pose topic (Odometry, PoseStamped, ...) or "{TF_SOURCE}" '
                             'for the TF tree (default: the node\'s odometry when present, '
                             f'else {TF_SOURCE})')
    parser.add_argument('--mask-topic', default=topics.mask,
                        help=f'dynamic mask Image topic, mono8 (default {topics.mask})')
    cli.add_tool_arguments(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: see :class:`align3r_ros.tools.cli.ExitCode` (and ``--help``)."""
    args = build_parser().parse_args(argv)
    output = Path(args.output)
    options = MapOptions(
        voxel_size=args.voxel_size, voxels_across=args.voxels_across,
        min_weight=args.min_weight, apply_mask=args.apply_mask,
        topics=MapTopics(depth=args.depth_topic, camera_info=args.camera_info_topic,
                         pose=args.pose_topic, mask=args.mask_topic))
    location = cli.OutputLocation(output, cli.OutputKind.FOLDER, '-o', empty_ok=True)

    def work() -> int:
        from align3r_ros.bag.writer import staged
        from align3r_ros.mapping.build import build_map

        with staged(output, overwrite=args.force) as staging:
            staging.mkdir()
            outcome = build_map(Path(args.bag), staging, options)
        print(f'{PROG}: {outcome.summary_line()}')
        print(f'{PROG}: map -> {output} ({", ".join(p.name for p in outcome.files)})')
        return cli.ExitCode.OK

    return cli.run_tool(PROG, work, debug=args.debug, outputs=[location], force=args.force)


if __name__ == '__main__':
    sys.exit(main())
