"""The mapping measurement of docs/mapping.md: does ``output.exclude_dynamic`` keep ghosts out?

    python3 -m align3r_ros.tools.map_measure [--frames N] [--height H] [--width W] [--seed S]

1. renders the synthetic dynamic scene (:mod:`align3r_ros.synthetic`, one moving sphere) and
   writes it as an input bag, as ``align3r-demo`` does;
2. replays it with the demo's engine settings (oracle backend) twice: ``output.exclude_dynamic``
   off and on. The oracle makes movers' pairwise predictions disagree only where it is given
   the rendered dynamic mask, which a bag does not carry; the replay's engine gets it by
   stamp (:class:`~align3r_ros.tools.oracle_mask.OracleMaskEngine`), as the engine would
   from real pairwise predictions;
3. maps each output bag with ``align3r-map``'s use case, and the first once more with
   ``--apply-mask`` (the mask applied by the mapper instead of the node);
4. fuses the reference map from the ground-truth depth and poses of static pixels only (the
   rendered dynamic mask left out), at the same voxel size (our voxel times the fitted scale);
5. fits our trajectory to the truth (Sim(3), Umeyama on camera centres) and scores each map
   (:mod:`align3r_ros.mapping.quality`): outliers farther than 2 % of the scene's extent (the
   reference map's bounding-box diagonal) from the reference, and trail points (outliers
   inside the volume the mover swept).

Prints one JSON object. Needs Open3D (``align3r-map``'s dependency).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from align3r_ros.synthetic.demo_scene import DemoScene
from align3r_ros.tools import cli
from align3r_ros.tools.oracle_mask import OracleMaskEngine

PROG = 'align3r_ros.tools.map_measure'
#: outliers are farther than this fraction of the scene's extent from the reference map
OUTLIER_FRACTION_OF_EXTENT = 0.02
#: the trajectory fit also maps points this fraction of the extent along each camera's axes
AXIS_LENGTH_OF_EXTENT = 0.5


@dataclass(frozen=True)
class MapScore:
    """One map's figures (reference units after the Sim(3) fit)."""

    points: int
    outliers: int
    outlier_fraction: float
    trail_points: int
    frames_fused: int
    voxel_size: float
    masked_fraction: float


@dataclass(frozen=True)
class Measurement:
    """The measurement: the maps with the dynamic pixels kept, excluded by the node, and
    masked by the mapper; the reference; the thresholds."""

    scene: DemoScene
    extent: float
    threshold: float
    reference_points: int
    sim3_scale: float
    without: MapScore
    exclude_dynamic: MapScore
    apply_mask: MapScore

    def trail_reduction(self, score: MapScore) -> float:
        """1 - trail points of ``score`` / trail points without the mask (1: none left)."""
        base = self.without.trail_points
        return 1.0 - score.trail_points / base if base else 0.0

    def as_dict(self) -> Dict[str, object]:
        out = dataclasses.asdict(self)
        out['trail_reduction'] = {'exclude_dynamic': self.trail_reduction(self.exclude_dynamic),
                                  'apply_mask': self.trail_reduction(self.apply_mask)}
        return out


def _reference(sequence, voxel_size: float, min_weight: float):
    from align3r_ros.mapping.frames import MapFrame
    from align3r_ros.mapping.tsdf import TsdfFusion, TsdfParams

    fusion = TsdfFusion(TsdfParams(voxel_size, min_weight=min_weight), apply_mask=True)
    for frame in sequence.frames:
        fusion.integrate(MapFrame(stamp_ns=frame.stamp_ns, depth=frame.gt_depth, K=frame.K,
                                  T_world_cam=frame.gt_T_world_cam,
                                  dynamic_mask=frame.gt_dynamic_mask))
    return fusion.result()


def measure(scene: DemoScene, workdir: Path) -> Measurement:
    """Run the measurement (module docstring) with its files in ``workdir`` (exists, empty)."""
    from align3r_ros.bag.frames_to_bag import FramesBagOptions, write_frames_bag
    from align3r_ros.config_io import load_config
    from align3r_ros.mapping.build import MapOptions, build_map
    from align3r_ros.mapping.quality import (SweptBall, map_quality, reference_extent,
                                             trajectory_alignment)
    from align3r_ros.tools.demo import DEMO_OVERRIDES
    from align3r_ros.engine.engine import Engine
    from align3r_ros.tools.replay_run import ReplayOptions, run_replay

    sequence = scene.render()
    bag_options = FramesBagOptions()
    write_frames_bag(sequence.frames, workdir / 'input_bag', bag_options)
    masks = {int(f.stamp_ns): f.gt_dynamic_mask for f in sequence.frames}
    outcomes = {}
    for name, exclude in (('without', False), ('exclude_dynamic', True)):
        overrides = {**DEMO_OVERRIDES, 'output': {'exclude_dynamic': exclude}}
        run_replay(ReplayOptions(input=workdir / 'input_bag', output=workdir / f'{name}_bag',
                                 config=load_config(overrides),
                                 gt_depth_topic=bag_options.gt_depth_topic,
                                 gt_pose_topic=bag_options.gt_pose_topic),
                   engine_factory=lambda config: OracleMaskEngine(Engine.from_config(config),
                                                                  masks))
    for name, bag, apply_mask in (('without', 'without_bag', False),
                                  ('exclude_dynamic', 'exclude_dynamic_bag', False),
                                  ('apply_mask', 'without_bag', True)):
        folder = workdir / f'{name}_map'
        folder.mkdir()
        outcomes[name] = build_map(workdir / bag, folder, MapOptions(apply_mask=apply_mask))
    gt_stamps = np.array([f.stamp_ns for f in sequence.frames], dtype=np.int64)
    base = outcomes['without']
    sim3 = trajectory_alignment(base.stamps_ns, base.T_world_cam, gt_stamps,
                                sequence.T_world_cam)
    options = MapOptions()
    reference = _reference(sequence, base.fused.params.voxel_size * sim3.scale,
                           options.min_weight)
    extent = reference_extent(reference.points)
    threshold = OUTLIER_FRACTION_OF_EXTENT * extent
    movers = [SweptBall(np.stack([s.centre_at(k) for k in range(scene.frames)]), s.radius)
              for s in sequence.scene.spheres if s.is_moving]
    scores = {}
    for name, outcome in outcomes.items():
        fit = trajectory_alignment(outcome.stamps_ns, outcome.T_world_cam, gt_stamps,
                                   sequence.T_world_cam, AXIS_LENGTH_OF_EXTENT * extent
                                   / sim3.scale)
        quality = map_quality(fit.apply(outcome.fused.points), reference.points, movers,
                              threshold)
        scores[name] = MapScore(points=quality.points, outliers=quality.outliers,
                                outlier_fraction=quality.outlier_fraction,
                                trail_points=quality.trail_points,
                                frames_fused=outcome.fused.frames_fused,
                                voxel_size=outcome.fused.params.voxel_size,
                                masked_fraction=outcome.masked_fraction)
    return Measurement(scene=scene, extent=extent, threshold=threshold,
                       reference_points=len(reference.points), sim3_scale=sim3.scale,
                       without=scores['without'], exclude_dynamic=scores['exclude_dynamic'],
                       apply_mask=scores['apply_mask'])


def main(argv: Optional[List[str]] = None) -> int:
    """Prints the measurement as JSON; exit status as every tool (``--help``)."""
    scene = DemoScene()
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n')[0])
    parser.add_argument('--frames', type=cli.positive_int, default=scene.frames)
    parser.add_argument('--height', type=cli.positive_int, default=scene.height)
    parser.add_argument('--width', type=cli.positive_int, default=scene.width)
    parser.add_argument('--seed', type=int, default=scene.seed)
    cli.add_tool_arguments(parser, force=False)
    args = parser.parse_args(argv)
    scene = DemoScene(args.frames, args.height, args.width, args.seed)

    def work() -> int:
        from align3r_ros.runtime import configure_runtime
        from align3r_ros.config_io import load_config

        configure_runtime(load_config().runtime)
        with tempfile.TemporaryDirectory(prefix='align3r-map-measure-') as workdir:
            result = measure(scene, Path(workdir))
        print(json.dumps(result.as_dict(), indent=2))
        return cli.ExitCode.OK

    return cli.run_tool(PROG, work, debug=args.debug)


if __name__ == '__main__':
    sys.exit(main())
