"""The measured runs of ``align3r-bench stream`` (each returns a JSON-ready dict).

Each run pushes frames through one :class:`~align3r_ros.engine.engine.Engine` and records, per
pushed frame: the wall time of its ``push`` (preparation, the backend — the oracle's own cost or
the networks — and alignment), the push that returned its result (latency in frames: 0 = its own
push; ``flush`` counts as one push after the last), whether it became a keyframe, and the resident
set. Runs are meant for a fresh process each (:func:`align_cases.isolated`), so that peak memory is
the run's own.

Keyframes: ``EngineStats.keyframes_added`` (live: the keyframe rule and every initialisation;
clip: one per completed clip whose keyframe joined the window).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from align3r_ros.benchmarks.align_cases import oracle_config, peak_rss_mib, rss_mib
from align3r_ros.engine.feed import run_frames
from align3r_ros.structures import Frame

#: The shared data folder (``ALIGN3R_SHARED_DIR``/data, else ``../shared/data`` of the project).
DATA = Path(os.environ.get('ALIGN3R_SHARED_DIR', Path(__file__).resolve().parents[3] / 'shared')
            ) / 'data'
#: The shared 7-Scenes frames (30 real frames with ground truth).
SEVEN_SCENES = DATA / '7scenes_redkitchen'
#: DAVIS frames (854 x 480, i.e. 512 x 288 at long side 512) for the network run.
DAVIS = DATA / 'davis_lady_running'


def summary(values: Sequence[float]) -> Dict[str, float]:
    """median, p95, max and mean of ``values`` (None when empty: JSON has no NaN)."""
    v = np.asarray(values, dtype=np.float64)
    if not v.size:
        return {k: None for k in ('median', 'p95', 'max', 'mean')}
    return {'median': float(np.median(v)), 'p95': float(np.percentile(v, 95)),
            'max': float(v.max()), 'mean': float(v.mean())}


def ping_pong(frames: Sequence[Frame], count: int, period_ns: int) -> Iterator[Frame]:
    """``count`` frames walking forward and back over ``frames`` with increasing stamps (a
    continuous camera path of any length from a short recording)."""
    order = list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))
    for k in range(count):
        frame = frames[order[k % len(order)]]
        yield Frame(stamp_ns=(k + 1) * period_ns, rgb=frame.rgb, K=frame.K,
                    gt_depth=frame.gt_depth, gt_T_world_cam=frame.gt_T_world_cam)


def _gpu_peak_mib(device: str) -> Optional[float]:
    import torch

    if not device.startswith('cuda') or not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2.0 ** 20


class _PushLog:
    """What :func:`drive` records per push, fed by :func:`~align3r_ros.engine.feed.run_frames`'s
    callbacks (the push index a result came out of gives its latency in frames)."""

    def __init__(self, engine, keep_results: bool) -> None:
        self.engine = engine
        self.keep_results = keep_results
        self.push_s: List[float] = []
        self.keyframe_flags: List[bool] = []
        self.rss: List[float] = []
        self.pushed_at: Dict[int, int] = {}
        self.emitted_at: Dict[int, int] = {}
        self.results: list = []
        self.non_finite = 0
        self.with_results = 0
        self._keyframes_before = 0
        self._emitted_now = False
        self._start = 0.0

    def timed(self, frames) -> Iterator[Frame]:
        """``frames``, noting each frame's index and the moment its push starts."""
        for k, frame in enumerate(frames):
            self.pushed_at[int(frame.stamp_ns)] = k
            self._keyframes_before = self.engine.stats.keyframes_added
            self._emitted_now = False
            self._start = time.perf_counter()
            yield frame

    def on_result(self, result) -> None:
        self.emitted_at[int(result.stamp_ns)] = len(self.push_s)  # flush: one past the last
        self._emitted_now = True
        self.non_finite += int(not np.isfinite(result.T_world_cam).all())
        if self.keep_results:
            self.results.append(result)

    def on_frame(self, pushed: int) -> None:
        self.push_s.append(time.perf_counter() - self._start)
        self.with_results += self._emitted_now
        self.keyframe_flags.append(self.engine.stats.keyframes_added > self._keyframes_before)
        self.rss.append(rss_mib())

    def on_flush(self) -> None:
        self._start = time.perf_counter()


def drive(engine, frames, keep_results: bool, device: str = 'cpu') -> Dict:
    """Push ``frames`` (an iterable) through ``engine`` with the one feed loop
    (:func:`~align3r_ros.engine.feed.run_frames`), then flush; per-frame statistics."""
    log = _PushLog(engine, keep_results)
    run_frames(engine, log.timed(frames), log.on_result, log.on_frame, log.on_flush)
    flush_s = time.perf_counter() - log._start
    latency = [log.emitted_at[s] - p for s, p in log.pushed_at.items() if s in log.emitted_at]
    flags = np.asarray(log.keyframe_flags, bool)
    times = np.asarray(log.push_s)
    total = float(times.sum()) + flush_s
    n = max(len(log.push_s), 1)
    return {
        'frames': len(log.push_s), 'results': len(log.emitted_at),
        'non_finite_poses': int(log.non_finite),
        'seconds_total': total, 'seconds_per_frame_mean': total / n,
        'push_seconds': summary(times), 'flush_seconds': flush_s,
        'keyframe_push_seconds': summary(times[flags]),
        'non_keyframe_push_seconds': summary(times[~flags]),
        'latency_frames': {'median': float(np.median(latency)) if latency else None,
                           'max': int(max(latency)) if latency else None,
                           'mean': float(np.mean(latency)) if latency else None},
        'keyframes': int(flags.sum()), 'keyframe_rate': float(flags.mean()) if n else 0.0,
        'rss_mib': log.rss, 'peak_rss_mib': peak_rss_mib(),
        'peak_gpu_mib': _gpu_peak_mib(device),
        '_results': log.results, '_push_s': log.push_s,
    }


def accuracy(results, frames: Sequence[Frame]) -> Dict[str, float]:
    """ATE (% of the ground-truth path length, after Sim(3)) and median-scaled Abs Rel."""
    from align3r_ros.evaluation.collector import EvaluationCollector
    from align3r_ros.evaluation.depth_metrics import DepthAlignment

    by_stamp = {int(f.stamp_ns): f for f in frames}
    collector = EvaluationCollector(DepthAlignment.MEDIAN_SCALE,
                                    max_depth_frames=max(2, len(frames) + 1))
    for result in results:
        if int(result.stamp_ns) in by_stamp:
            collector.add(result, by_stamp[int(result.stamp_ns)])
    evaluation = collector.evaluate()
    gt = np.stack([f.gt_T_world_cam[:3, 3] for f in frames])
    length = float(np.linalg.norm(np.diff(gt, axis=0), axis=1).sum())
    out = {'trajectory_length_m': length}
    if evaluation.pose is not None and evaluation.pose.ok:
        out['ate_m'] = float(evaluation.pose.ate)
        out['ate_percent_of_length'] = 100.0 * float(evaluation.pose.ate) / length
    if evaluation.depth is not None:
        out['abs_rel_median_scaled'] = float(evaluation.depth.abs_rel)
    return out


def oracle_run(mode: str, frames: int, long_side: int, soak: int, device: str,
               cpu_threads: int, data: str = str(SEVEN_SCENES)) -> Dict:
    """Part (a): the oracle backend on the shared 7-Scenes frames in ``mode`` (live | clip)."""
    from align3r_ros.engine.engine import Engine
    from align3r_ros.evaluation.datasets import DatasetKind, load_sequence

    seq = load_sequence(DatasetKind.SEVEN_SCENES, Path(data), frames=frames)
    config = oracle_config(long_side, stream={'mode': mode},
                           runtime={'device': device, 'threads': cpu_threads})
    out = {'mode': mode, 'long_side': long_side, 'device': device}
    run = drive(Engine.from_config(config), seq.frames, keep_results=True, device=device)
    out.update(accuracy(run.pop('_results'), seq.frames))
    run.pop('rss_mib')
    run.pop('_push_s')
    out.update(run)
    if soak:
        period = int(seq.frames[1].stamp_ns - seq.frames[0].stamp_ns)
        engine = Engine.from_config(config)
        long = drive(engine, ping_pong(seq.frames, soak, period), keep_results=False,
                     device=device)
        rss = long.pop('rss_mib')
        push_s = long.pop('_push_s')
        long.pop('_results')
        tenth = max(1, soak // 10)
        base = rss[tenth - 1]
        out['soak'] = {'frames': soak, 'rss_mib_at_10_percent': base,
                       'rss_mib_at_end': rss[-1],
                       'rss_growth_percent': 100.0 * (rss[-1] - base) / base,
                       'push_seconds': long['push_seconds'],
                       'push_seconds_first_10_percent': summary(push_s[:tenth]),
                       'push_seconds_last_10_percent': summary(push_s[-tenth:]),
                       'latency_frames': long['latency_frames'],
                       'non_finite_poses': long['non_finite_poses'],
                       'keyframes': long['keyframes']}
    return out


def _davis_frames(count: int) -> List[Frame]:
    from align3r_ros.evaluation.dataset_files import read_rgb

    files = sorted(DAVIS.glob('**/*.jpg'))
    if not files:
        raise FileNotFoundError(f'no DAVIS frames (*.jpg) in {DAVIS}')
    period = int(1e9 / 30)
    return [Frame(stamp_ns=(k + 1) * period, rgb=read_rgb(files[k % len(files)]))
            for k in range(count)]


def _json_or_name(spec: str):
    return json.loads(Path(spec).read_text(encoding='utf-8')) if spec.endswith('.json') \
        else spec


def network_run(frames: int, device: str, dtype: str, prior_model: str, warmup: int,
                cpu_threads: int, network: str = '') -> Dict:
    """Part (b): full-size Align3R (random weights) + a Depth Anything V2 prior (random
    weights), live mode, DAVIS frames at 512 x 288; end-to-end FPS, latency, peak memory.

    ``network`` / ``prior_model``: a name or a ``config.json`` path (tests use the tiny
    fixtures); '' is the full-size Align3R network.
    """
    import torch

    from align3r_ros.backends.prior_torch import DepthAnythingPriorBackend
    from align3r_ros.backends.torch_pairwise import TorchPairwiseBackend
    from align3r_ros.benchmarks.network import NETWORK, _build_net
    from align3r_ros.config_io import load_config
    from align3r_ros.engine.engine import Engine
    from align3r_ros.networks.depth_anything.build import build_depth_anything_v2

    if device.startswith('cuda') and not torch.cuda.is_available():
        return {'skipped': 'no CUDA device: the network run needs --device cuda on a GPU '
                           '(run align3r-bench gpu there)'}
    config = load_config({'pairwise': {'backend': 'torch'},
                          'prior': {'backend': 'depth_anything_v2'},
                          'preprocess': {'long_side': 512}, 'stream': {'mode': 'live'},
                          'runtime': {'device': device, 'dtype': dtype,
                                      'threads': cpu_threads}})
    network = network or NETWORK
    pairwise = TorchPairwiseBackend(_build_net(network), device=device, dtype=dtype)
    autocast = {'fp32': None, 'fp16': torch.float16, 'bf16': torch.bfloat16}[dtype]
    torch.manual_seed(0)
    prior_net = build_depth_anything_v2(_json_or_name(prior_model)).to(device).eval()
    prior = DepthAnythingPriorBackend(prior_net,
                                      autocast_dtype=autocast if device != 'cpu' else None)
    engine = Engine(config, pairwise, prior)
    stream = _davis_frames(warmup + frames)
    if warmup:
        drive(engine, stream[:warmup], keep_results=False, device=device)
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    run = drive(engine, stream[warmup:], keep_results=False, device=device)
    for key in ('_results', '_push_s', 'rss_mib'):
        run.pop(key)
    h, w = stream[0].rgb.shape[:2]
    return {'network': network, 'prior': f'depth_anything_v2 {prior_model}', 'device': device,
            'dtype': dtype, 'input_size': [w, h], 'warmup_frames': warmup,
            'fps_end_to_end': run['frames'] / run['seconds_total'],
            'latency_ms': {k: 1e3 * v for k, v in run['push_seconds'].items()}, **run}
