"""The measurement behind ``output.dynamic_dilate_px``'s default, printed as JSON.

    python3 -m align3r_ros.benchmarks.dynamic_dilate [--frames 30] [--seeds 0,1]
        [--modes live,clip] [--radii 0,1,2,3,4]

The demo's synthetic dynamic scene (128x96, one moving sphere, ground truth) through the real
engine with the oracle backend (the demo's settings: network long side 64; outputs at the input
resolution, so the rendered mover mask applies pixel for pixel), each mode and seed once. For
each radius, the published depth with ``output.exclude_dynamic``
(:func:`~align3r_ros.messages.dynamic.output_depth`, the node's composition) is compared with the
one without it, over all frames:

* ``mover_left``: share of the ground-truth mover pixels with a depth that keep it (ghosts a
  mapper would integrate; lower is better);
* ``static_removed``: share of the static pixels with a depth that lose it (map lost; lower is
  better).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

from align3r_ros.synthetic.demo_scene import DemoScene


def _results(mode: str, frames: int, seed: int):
    from align3r_ros.backends.oracle import OracleBackend
    from align3r_ros.config_io import load_config
    from align3r_ros.engine.engine import Engine
    from align3r_ros.engine.feed import collect_results

    config = load_config({'pairwise': {'backend': 'oracle'}, 'preprocess': {'long_side': 64},
                          'stream': {'mode': mode}, 'output': {'resolution': 'input'}})
    sequence = DemoScene(frames=frames, seed=seed).render()
    engine = Engine(config, OracleBackend.from_config(config))
    results = collect_results(engine, [dataclasses.replace(f, tag=f) for f in sequence.frames])
    return config, results


def measure(modes: Sequence[str], seeds: Sequence[int], radii: Sequence[int],
            frames: int) -> Dict[str, object]:
    """{'runs': [{mode, seed, radius, mover_left, static_removed}], 'mean': per radius}."""
    from align3r_ros.messages.dynamic import output_depth

    runs: List[Dict[str, object]] = []
    for mode in modes:
        for seed in seeds:
            config, results = _results(mode, frames, seed)
            for radius in radii:
                out = dataclasses.replace(config.output, dynamic_dilate_px=int(radius))
                kept_mover = left_mover = kept_static = removed_static = 0
                for result in results:
                    truth = np.asarray(result.tag.gt_dynamic_mask, dtype=bool)
                    before = np.isfinite(output_depth(result, dataclasses.replace(
                        out, exclude_dynamic=False)))
                    after = np.isfinite(output_depth(result, dataclasses.replace(
                        out, exclude_dynamic=True)))
                    kept_mover += int((before & truth).sum())
                    left_mover += int((after & truth).sum())
                    kept_static += int((before & ~truth).sum())
                    removed_static += int((before & ~after & ~truth).sum())
                runs.append({'mode': mode, 'seed': seed, 'radius': int(radius),
                             'mover_left': left_mover / max(kept_mover, 1),
                             'static_removed': removed_static / max(kept_static, 1)})
    mean = {str(r): {key: float(np.mean([run[key] for run in runs if run['radius'] == r]))
                     for key in ('mover_left', 'static_removed')} for r in radii}
    return {'frames': frames, 'modes': list(modes), 'seeds': list(seeds), 'runs': runs,
            'mean': mean}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='align3r_ros.benchmarks.dynamic_dilate',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--seeds', default='0,1')
    parser.add_argument('--modes', default='live,clip')
    parser.add_argument('--radii', default='0,1,2,3,4')
    args = parser.parse_args(argv)
    report = measure(args.modes.split(','), [int(s) for s in args.seeds.split(',')],
                     [int(r) for r in args.radii.split(',')], args.frames)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
