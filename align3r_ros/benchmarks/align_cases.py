"""The measured cases of ``align3r-bench align`` (each returns a JSON-ready dict).

Every case runs in a fresh spawned process (see :func:`isolated`) so that its peak resident set
(Linux ``VmHWM``) belongs to that case alone; memory is reported as that peak and as its growth
over the process's state just before the case (imports and input data already loaded).
Torch runs on ``threads`` threads (one by default, so timings are comparable between runs), set
through the runtime configuration as every entry point does; streaming and hierarchical
alignment run through the one feed loop (``engine.feed``), as in the replay and the evaluation.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Callable, Dict, List

import numpy as np

from align3r_ros.config import Align3rConfig, GraphKind, RuntimeConfig
from align3r_ros.config_io import load_config
from align3r_ros.runtime import configure_runtime

MIB = 1024.0 * 1024.0


def _proc_status_kib(field: str) -> float:
    try:
        with open('/proc/self/status', encoding='ascii') as stream:
            for line in stream:
                if line.startswith(field + ':'):
                    return float(line.split()[1])
    except OSError:
        pass
    return float('nan')


def rss_mib() -> float:
    """Current resident set, MiB (NaN off Linux)."""
    return _proc_status_kib('VmRSS') / 1024.0


def peak_rss_mib() -> float:
    """Peak resident set of this process so far, MiB (NaN off Linux)."""
    return _proc_status_kib('VmHWM') / 1024.0


def _child(queue, function: Callable, kwargs: dict, threads: int) -> None:
    configure_runtime(RuntimeConfig(threads=threads))
    try:
        queue.put(function(**kwargs))
    except Exception as error:  # report, do not hang the parent
        queue.put({'error': f'{type(error).__name__}: {error}'})


def isolated(function: Callable, threads: int = 1, **kwargs) -> Dict:
    """Run ``function(**kwargs)`` in a fresh spawned process and return its dict."""
    context = multiprocessing.get_context('spawn')
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, function, kwargs, threads))
    process.start()
    result = queue.get()
    process.join()
    return result


def oracle_config(long_side: int, **groups) -> Align3rConfig:
    base = {'pairwise': {'backend': 'oracle'}, 'preprocess': {'long_side': long_side}}
    for name, values in groups.items():
        base[name] = {**base.get(name, {}), **values}
    return load_config(base)


def errors(T_world_cam: np.ndarray, depth: np.ndarray, seq) -> Dict:
    """ATE (% of trajectory length, after Sim(3)) and median-scaled depth Abs Rel."""
    from align3r_ros.evaluation.depth_metrics import DepthAlignment, evaluate_depth_sequence
    from align3r_ros.evaluation.pose_metrics import evaluate_trajectory
    pose = evaluate_trajectory(T_world_cam, seq.T_world_cam)
    static = np.where(seq.dynamic_mask, np.nan, seq.depth)
    depth_metrics = evaluate_depth_sequence(depth, static, DepthAlignment.MEDIAN_SCALE)
    return {'ate_percent_of_length': 100.0 * pose.ate / seq.trajectory_length,
            'ate_m': pose.ate, 'abs_rel_median_scaled': depth_metrics.abs_rel,
            'depth_coverage': depth_metrics.pred_coverage}


def solver_case(solver: str, num_frames: int, height: int, width: int, seed: int) -> Dict:
    """Part 1: one solver on a rigid synthetic problem, sliding window 5, symmetric."""
    from align3r_ros.align import align_pairs, make_pair_edges
    from align3r_ros.backends.base import NetworkView, ViewTruth
    from align3r_ros.backends.oracle import OracleBackend
    from align3r_ros.synthetic import make_sequence
    config = oracle_config(max(height, width), align={'solver': solver})
    seq = make_sequence(num_frames, height, width, seed=seed, num_movers=0)
    views = [NetworkView(key=f.stamp_ns, image=np.zeros((3, height, width), np.float32),
                         K=f.K, truth=ViewTruth(f.gt_depth, f.gt_T_world_cam))
             for f in seq.frames]
    edges = make_pair_edges(num_frames, GraphKind.SLIDING_WINDOW, 5, False, True)
    predictions = OracleBackend.from_config(config).predict(views, edges)
    before = rss_mib()
    start = time.perf_counter()
    result = align_pairs(predictions, config.align)
    seconds = time.perf_counter() - start
    out = {'solver': solver, 'seconds': seconds, 'iterations': result.iterations,
           'edges': int(len(edges)), 'peak_rss_mib': peak_rss_mib(),
           'rss_growth_mib': peak_rss_mib() - before}
    out.update(errors(result.T_world_cam, result.depth, seq))
    return out


def mode_case(mode: str, num_frames: int, height: int, width: int, seed: int) -> Dict:
    """Part 2: flat, hierarchical or streaming alignment of one synthetic dynamic sequence.

    Streaming and hierarchical run as the tools run them, through the feed loop: the streaming
    engine, the offline engine (``align_sequence``). Flat is the hierarchy's building block on
    the whole sequence (one clip), called directly: sequences longer than ``clip.length``'s
    bound (200) have no flat mode behind the offline engine.
    """
    from align3r_ros.engine.engine import Engine, build_backends
    from align3r_ros.engine.feed import OfflineEngine, collect_results
    from align3r_ros.engine.offline.hierarchical import align_flat
    from align3r_ros.engine.steps.frame_prep import FramePreparer
    from align3r_ros.synthetic import make_sequence
    config = oracle_config(max(height, width))
    seq = make_sequence(num_frames, height, width, seed=seed, num_movers=1)
    pairwise, prior = build_backends(config)
    before = rss_mib()
    start = time.perf_counter()
    if mode == 'flat':
        preparer = FramePreparer(config, pairwise.needs_pointmap, prior, keep_input_rgb=False)
        results = align_flat([preparer.prepare(f, f.stamp_ns) for f in seq.frames], pairwise,
                             config)
    else:
        engine = (Engine(config, pairwise, prior) if mode == 'streaming'
                  else OfflineEngine(config, pairwise, prior))
        results = collect_results(engine, seq.frames)
    seconds = time.perf_counter() - start
    out = {'mode': mode, 'frames': num_frames, 'seconds': seconds,
           'peak_rss_mib': peak_rss_mib(), 'rss_growth_mib': peak_rss_mib() - before}
    out.update(errors(np.stack([r.T_world_cam for r in results]),
                      np.stack([r.masked_depth(config.output.conf_threshold)
                                for r in results]), seq))
    return out


def soak_case(num_frames: int, height: int, width: int, seed: int) -> Dict:
    """Part 3: a long streaming run; per-clip time and resident set over the run."""
    from align3r_ros.engine.engine import Engine
    from align3r_ros.engine.feed import run_frames
    from align3r_ros.synthetic import iter_frames
    config = oracle_config(max(height, width))
    engine = Engine.from_config(config)
    clip_ms: List[float] = []
    rss_at: Dict[str, float] = {}
    marks = {200, num_frames // 2, num_frames}
    non_finite: List[int] = []
    emitted_before = [0]

    def on_result(result) -> None:
        if not np.isfinite(result.T_world_cam).all():
            non_finite.append(int(result.stamp_ns))

    def on_frame(k: int) -> None:
        if engine.stats.frames_out > emitted_before[0]:  # a clip completed on this push
            clip_ms.append(engine.stats.timings.total_ms)
            emitted_before[0] = engine.stats.frames_out
        if k in marks:
            rss_at[str(k)] = rss_mib()

    start = time.perf_counter()
    feed = run_frames(engine, iter_frames(num_frames, height, width, seed=seed, num_movers=1),
                      on_result, on_frame)
    if non_finite:
        return {'error': f'non-finite pose at stamp {non_finite[0]}'}
    emitted = feed.results_out
    tenth = max(1, len(clip_ms) // 10)
    first, last = float(np.mean(clip_ms[:tenth])), float(np.mean(clip_ms[-tenth:]))
    rss_first = rss_at.get('200', float('nan'))
    rss_last = rss_at[str(num_frames)]
    return {'frames': num_frames, 'size': [height, width], 'clips': len(clip_ms),
            'frames_out': emitted, 'seconds': time.perf_counter() - start,
            'clip_ms_first_10pct': first, 'clip_ms_last_10pct': last,
            'clip_time_ratio_last_over_first': last / first,
            'rss_mib_at_frame': rss_at,
            'rss_growth_200_to_end_percent': 100.0 * (rss_last / rss_first - 1.0),
            'held_frames_at_end': engine.held_frames,
            'targets': {'clip_time_ratio_max': 1.2, 'rss_growth_percent_max': 5.0}}
