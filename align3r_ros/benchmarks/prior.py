"""Monocular prior cost: ms per frame and peak memory per model at its native resolution.

Random weights at full size (no checkpoint needed): Depth Anything V2 ViT-S / B / L on a
518 x 518 frame, Depth Pro on a 1536 x 1536 frame, through the same backend ``estimate`` the
engine calls (preprocessing, network, resizing back). CPU with a fixed thread count (default 2),
and CUDA when available. Each (model, device) runs in its own subprocess so that its peak RSS is
its own.

    align3r-bench prior [--models vits,vitl,depth_pro] [--repeats 3] [--warmup 1]
                        [--threads 2] [--devices cpu,cuda] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from align3r_ros.benchmarks.report import emit_report, peak_rss_mib
from align3r_ros.config import RuntimeConfig
from align3r_ros.geometry.camera import default_intrinsics
from align3r_ros.runtime import configure_runtime

MODELS = ('vits', 'vitb', 'vitl', 'depth_pro')
NATIVE_SIDE = {'vits': 518, 'vitb': 518, 'vitl': 518, 'depth_pro': 1536}


def _build_backend(model: str, device: str):  # noqa: ANN202 - a PriorBackend
    import torch

    torch.manual_seed(0)
    if model == 'depth_pro':
        from align3r_ros.backends.prior_torch import DepthProPriorBackend
        from align3r_ros.networks.depth_pro import build_depth_pro

        return DepthProPriorBackend(build_depth_pro('depth_pro', device=device))
    from align3r_ros.backends.prior_torch import DepthAnythingPriorBackend
    from align3r_ros.networks.depth_anything.build import build_depth_anything_v2

    return DepthAnythingPriorBackend(build_depth_anything_v2(model).to(device))


def run_one(model: str, device: str, repeats: int, warmup: int, threads: int) -> Dict:
    """Time one model on one device in this process; returns the JSON record."""
    import torch

    configure_runtime(RuntimeConfig(threads=threads))  # 0: torch's default
    rss_before = peak_rss_mib()
    start = time.perf_counter()
    backend = _build_backend(model, device)
    build_s = time.perf_counter() - start
    side = NATIVE_SIDE[model]
    frame = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    K = default_intrinsics(side, side, float(side))
    times: List[float] = []
    cpu_times: List[float] = []
    for index in range(warmup + repeats):
        if device == 'cuda':
            torch.cuda.synchronize()
        tic, cpu_tic = time.perf_counter(), time.process_time()
        prior = backend.estimate(frame, K)
        if device == 'cuda':
            torch.cuda.synchronize()
        if index >= warmup:
            times.append((time.perf_counter() - tic) * 1e3)
            cpu_times.append((time.process_time() - cpu_tic) * 1e3)
    return {
        'model': model if model == 'depth_pro' else f'depth_anything_v2_{model}',
        'device': device,
        'threads': torch.get_num_threads() if device == 'cpu' else None,
        'frame_hw': [side, side],
        'prior_kind': str(prior.kind),
        'repeats': repeats,
        'ms_per_frame_median': round(float(np.median(times)), 1),
        'ms_per_frame_min': round(float(np.min(times)), 1),
        # CPU time of all threads: wall ~ this / threads on an otherwise idle machine.
        'cpu_ms_per_frame_median': round(float(np.median(cpu_times)), 1),
        'build_s': round(build_s, 2),
        'peak_rss_mb': round(peak_rss_mib(), 1),
        'rss_before_build_mb': round(rss_before, 1),
        'cuda_peak_allocated_mb': (round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
                                   if device == 'cuda' else None),
        'device_name': (torch.cuda.get_device_name() if device == 'cuda' else None),
    }


def _parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='align3r-bench prior', description=__doc__.split(
        '\n')[0])
    parser.add_argument('--models', default='vits,vitl,depth_pro',
                        help=f'comma-separated subset of {",".join(MODELS)}')
    parser.add_argument('--repeats', type=int, default=3, help='timed frames per model')
    parser.add_argument('--warmup', type=int, default=1, help='untimed frames first')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads (0: torch default)')
    parser.add_argument('--devices', default='auto',
                        help="'auto' (cpu, plus cuda when available) or e.g. 'cpu' / 'cuda'")
    parser.add_argument('--out', default='', help='also write the JSON to this file')
    parser.add_argument('--worker', nargs=2, metavar=('MODEL', 'DEVICE'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [m for m in args.models.split(',') if m not in MODELS]
    if unknown:
        parser.error(f'unknown models {unknown}; choose from {",".join(MODELS)}')
    if args.repeats < 1 or args.warmup < 0:
        parser.error('--repeats must be >= 1 and --warmup >= 0')
    return args


def _devices(spec: str) -> List[str]:
    if spec != 'auto':
        return spec.split(',')
    import torch

    return ['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu']


def _run_isolated(model: str, device: str, args: argparse.Namespace) -> Dict:
    command = [sys.executable, '-m', 'align3r_ros.benchmarks.prior', '--worker', model, device,
               '--repeats', str(args.repeats), '--warmup', str(args.warmup),
               '--threads', str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = ' | '.join(done.stderr.strip().splitlines()[-3:])
        return {'model': model, 'device': device, 'error': tail or f'exit {done.returncode}'}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parse(argv)
    if args.worker:
        model, device = args.worker
        print(json.dumps(run_one(model, device, args.repeats, args.warmup, args.threads)))
        return 0
    import torch

    results = [_run_isolated(model, device, args)
               for device in _devices(args.devices) for model in args.models.split(',')]
    report = {'benchmark': 'prior', 'torch': torch.__version__, 'weights': 'random, full size',
              'results': results}
    emit_report(report, args.out)
    return 1 if any('error' in r for r in results) else 0


if __name__ == '__main__':
    sys.exit(main())
