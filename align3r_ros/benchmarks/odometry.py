"""``align3r-bench odometry``: metric scale and bounded drift from (simulated) robot odometry.

    align3r-bench odometry [--frames 64] [--long-side 512] [--slip-start 32] [--threads 2]
        [--device cpu] [--out FILE]

The oracle backend on the shared 7-Scenes frames (``../shared/data/7scenes_redkitchen``, walked
forward and back to ``--frames`` frames) in live mode, ``output.resolution: input``, the
camera's K known (``camera.intrinsics: known``, as a robot's CameraInfo gives it: with an
estimated focal, depth carries the focal's error against the metric translations), three runs,
each in its own fresh process:

* ``vision``: no odometry (the Sim(3) ATE the issue compares with);
* ``odometry``: simulated odometry = ground truth with a 1 % scale error, 5 mm / 0.2° noise per
  frame and 0.5° per metre of yaw drift (:mod:`align3r_ros.benchmarks.odometry_sim`);
* ``slip``: the same with the odometry frozen for 10 frames from ``--slip-start`` while the
  camera moves.

Reported (JSON): the scale error (per frame, |median(depth / ground-truth depth) - 1| over valid
pixels) once the camera has moved 0.3 m; the metric ATE without any scale fit (SE(3) alignment,
over the frames whose result is metric); the odometry's own ATE (SE(3)); the Sim(3) ATE of the
vision run; for the slip, the frames reported as disagreeing, whether every output is finite and
the metric ATE over the 20 frames after the slip (SE(3) fit of those frames) against the same
frames of the run without slip; the median push time of each run. ``targets`` states each of
the issue's targets and whether it holds.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from align3r_ros.benchmarks.align_cases import isolated, oracle_config
from align3r_ros.benchmarks.odometry_sim import (NOISE_MODELS, OdometryNoise,
                                                 simulate_odometry, walk_scale_bound)
from align3r_ros.benchmarks.report import emit_report
from align3r_ros.benchmarks.stream_cases import SEVEN_SCENES, drive, ping_pong
from align3r_ros.geometry.sim3 import umeyama_alignment

#: the camera path after which the scale must hold, metres.
SCALE_AFTER_M = 0.3
SLIP_FRAMES = 10
AFTER_SLIP_FRAMES = 20
CASES = ('vision', 'odometry', 'slip')


def se3_ate(est: np.ndarray, gt: np.ndarray) -> Optional[float]:
    """RMSE of positions after a rigid (no scale) fit of ``est`` (N, 3) onto ``gt`` (N, 3)."""
    if len(est) < 3:
        return None
    fit = umeyama_alignment(est, gt, with_scale=False)
    return float(np.sqrt(np.mean(np.sum((fit.apply(est) - gt) ** 2, axis=1))))


def sim3_ate(est: np.ndarray, gt: np.ndarray) -> Optional[float]:
    """RMSE of positions after a similarity fit (evo's ATE)."""
    if len(est) < 3:
        return None
    fit = umeyama_alignment(est, gt, with_scale=True)
    return float(np.sqrt(np.mean(np.sum((fit.apply(est) - gt) ** 2, axis=1))))


def depth_scale_error(depth: np.ndarray, gt_depth: np.ndarray) -> Optional[float]:
    """|median(depth / gt) - 1| over pixels valid in both (None without any)."""
    with np.errstate(invalid='ignore', divide='ignore'):
        ok = np.isfinite(depth) & np.isfinite(gt_depth) & (depth > 0) & (gt_depth > 0)
        if not ok.any():
            return None
        return float(abs(np.median(depth[ok] / gt_depth[ok]) - 1.0))


def travelled(T_world_cam: np.ndarray) -> np.ndarray:
    """(N,) camera path length up to each frame of (N, 4, 4) poses, metres."""
    steps = np.linalg.norm(np.diff(T_world_cam[:, :3, 3], axis=0), axis=1)
    return np.concatenate([[0.0], np.cumsum(steps)])


def run_metrics(results: Sequence, frames: Sequence, odometry: Optional[np.ndarray],
                slip: Optional[range]) -> Dict:
    """The accuracy figures of one run (``results`` in frame order, one per frame)."""
    gt_T_world_cam = np.stack([f.gt_T_world_cam for f in frames])
    gt = gt_T_world_cam[:, :3, 3]
    est = np.stack([r.T_world_cam[:3, 3] for r in results])
    metric = np.array([bool(r.is_metric) for r in results])
    distance = travelled(gt_T_world_cam)
    out: Dict = {'frames': len(results), 'trajectory_length_m': float(distance[-1]),
                 'metric_frames': int(metric.sum()),
                 'first_metric_frame': int(np.argmax(metric)) if metric.any() else None,
                 'ate_sim3_m': sim3_ate(est[metric], gt[metric]) if metric.any() else
                 sim3_ate(est, gt),  # a run turning metric mixes units before: its metric part
                 'scale_sources': sorted({getattr(r, 'scale_source', '') for r in results}),
                 'finite': bool(all(np.isfinite(r.T_world_cam).all() for r in results))}
    errors = [depth_scale_error(r.depth, f.gt_depth) if r.is_metric else None
              for r, f in zip(results, frames)]
    late = [e for e, d in zip(errors, distance) if d >= SCALE_AFTER_M and e is not None]
    out['scale_error_after_0_3m'] = {'max': max(late) if late else None,
                                     'median': float(np.median(late)) if late else None,
                                     'frames': len(late)}
    out['ate_se3_metric_m'] = se3_ate(est[metric], gt[metric]) if metric.any() else None
    if odometry is not None:
        out['odometry_ate_se3_m'] = se3_ate(odometry[:, :3, 3], gt)
        out['odometry_ate_se3_metric_frames_m'] = se3_ate(odometry[metric, :3, 3], gt[metric]) \
            if metric.any() else None
    disagreeing = [k for k, r in enumerate(results) if 'odometry disagrees' in (r.status or '')]
    out['disagreeing_frames'] = disagreeing
    if slip is not None:
        after = list(range(slip.stop, min(slip.stop + AFTER_SLIP_FRAMES, len(results))))
        out['slip_frames'] = list(slip)
        out['slip_frames_reported'] = sorted(set(disagreeing) & set(slip))
        out['after_slip_frames'] = after
    return out


def window_ate(results: Sequence, frames: Sequence, window: Sequence[int]) -> Optional[float]:
    """SE(3) ATE over the frames of ``window`` (their own rigid fit); None for fewer than 3
    (a run too short to reach the window)."""
    if len(window) < 3:
        return None
    est = np.stack([results[k].T_world_cam[:3, 3] for k in window])
    gt = np.stack([frames[k].gt_T_world_cam[:3, 3] for k in window])
    return se3_ate(est, gt)


def odometry_case(case: str, frames: int, long_side: int, slip_start: int, device: str,
                  cpu_threads: int, data: str = str(SEVEN_SCENES), seed: int = 0,
                  noise_model: str = 'jitter') -> Dict:
    """One run (``case`` in :data:`CASES`); returns its JSON-ready dict."""
    from align3r_ros.engine.engine import Engine
    from align3r_ros.evaluation.datasets import DatasetKind, load_sequence

    seq = load_sequence(DatasetKind.SEVEN_SCENES, Path(data))
    period = int(seq.frames[1].stamp_ns - seq.frames[0].stamp_ns)
    stream: List = list(ping_pong(seq.frames, frames, period))
    gt = np.stack([f.gt_T_world_cam for f in stream])
    slip = range(slip_start, slip_start + SLIP_FRAMES) if case == 'slip' else None
    odometry = None
    noise = OdometryNoise(slip=(slip.start, slip.stop) if slip else None, seed=seed,
                          noise_model=noise_model)
    if case != 'vision':
        odometry = simulate_odometry(gt, noise)
        stream = [dataclasses.replace(f, T_odom_cam=T) for f, T in zip(stream, odometry)]
    config = oracle_config(long_side, stream={'mode': 'live'}, output={'resolution': 'input'},
                           camera={'intrinsics': 'known'},
                           runtime={'device': device, 'threads': cpu_threads})
    run = drive(Engine.from_config(config), stream, keep_results=True, device=device)
    results = sorted(run['_results'], key=lambda r: r.stamp_ns)
    out = {'case': case, 'long_side': long_side, 'push_seconds': run['push_seconds'],
           **run_metrics(results, stream, odometry, slip)}
    if case != 'vision' and noise_model == 'walk':
        bound = walk_scale_bound(gt, noise.translation_noise_m)
        out['walk_scale_bound_at_0_3m'] = float(bound[np.argmax(travelled(gt) >= SCALE_AFTER_M)])
    windows = {'after_slip': list(range(slip_start + SLIP_FRAMES,
                                        min(slip_start + SLIP_FRAMES + AFTER_SLIP_FRAMES,
                                            len(results))))}
    out['window_ate_se3_m'] = {name: window_ate(results, stream, w) for name, w in
                               windows.items()}
    return out


def targets(by_case: Dict[str, Dict]) -> Dict:
    """The issue's targets, each with its numbers and whether it holds."""
    vision, odo, slip = (by_case.get(c, {}) for c in CASES)
    out: Dict = {}
    scale = odo.get('scale_error_after_0_3m', {}).get('max')
    out['scale_error_le_3_percent'] = {'value': scale,
                                       'holds': scale is not None and scale <= 0.03}
    metric, own, sim3 = (odo.get('ate_se3_metric_m'), odo.get('odometry_ate_se3_m'),
                         vision.get('ate_sim3_m'))
    out['metric_ate_le_odometry_ate'] = {
        'value': [metric, own], 'holds': None not in (metric, own) and metric <= own}
    out['metric_ate_le_1_5_x_vision_sim3_ate'] = {
        'value': [metric, sim3], 'holds': None not in (metric, sim3) and metric <= 1.5 * sim3}
    after_slip = slip.get('window_ate_se3_m', {}).get('after_slip')
    after_clean = odo.get('window_ate_se3_m', {}).get('after_slip')
    out['slip_after_ate_le_2_x_without_slip'] = {
        'value': [after_slip, after_clean],
        'holds': None not in (after_slip, after_clean) and after_slip <= 2 * after_clean}
    reported = slip.get('slip_frames_reported', [])
    out['slip_reported_and_finite'] = {'value': reported,
                                       'holds': bool(reported) and bool(slip.get('finite'))}
    push_v = (vision.get('push_seconds') or {}).get('median')
    push_o = (odo.get('push_seconds') or {}).get('median')
    ratio = push_o / push_v if push_v and push_o else None
    out['median_push_growth_le_10_percent'] = {'value': ratio,
                                               'holds': ratio is not None and ratio <= 1.10}
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='align3r-bench odometry',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=64, help='frames (7-Scenes walked '
                        'forward and back)')
    parser.add_argument('--long-side', type=int, default=512, help='network long side (px)')
    parser.add_argument('--slip-start', type=int, default=32, help='first frozen frame of the '
                        'slip run (32: the camera walks back steadily through the slip)')
    parser.add_argument('--cases', default=','.join(CASES), help='comma list of runs')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--device', default='cpu', help='runtime.device: cpu, cuda or auto')
    parser.add_argument('--seed', type=int, default=0, help='odometry noise seed')
    parser.add_argument('--noise-model', default='jitter', choices=NOISE_MODELS,
                        help='per-frame noise: jitter (each pose, the benchmark) or walk '
                        '(each increment, integrated: a stress case)')
    parser.add_argument('--data', default=str(SEVEN_SCENES), help='7-Scenes sequence folder')
    parser.add_argument('--out', help='also write the JSON here')
    return parser


def run(args: argparse.Namespace) -> Dict:
    cases = [c.strip() for c in args.cases.split(',') if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        raise ValueError(f'unknown case(s) {unknown}; choose from {", ".join(CASES)}')
    results = {case: isolated(odometry_case, args.threads, case=case, frames=args.frames,
                              long_side=args.long_side, slip_start=args.slip_start,
                              device=args.device, cpu_threads=args.threads, data=args.data,
                              seed=args.seed, noise_model=args.noise_model)
               for case in cases}
    return {'benchmark': 'odometry', 'machine': {'python': platform.python_version(),
                                                  'processor': platform.machine()},
            'torch_threads': args.threads, 'data': '7scenes_redkitchen (shared)',
            'noise': dataclasses.asdict(OdometryNoise(seed=args.seed,
                                                      noise_model=args.noise_model)),
            'runs': results,
            'targets': targets(results)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    report = run(args)
    emit_report(report, args.out)
    return 1 if any('error' in r for r in report['runs'].values()) else 0
