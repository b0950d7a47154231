"""``align3r-bench stream``: live vs clip streaming, per frame, against ground truth, as JSON.

    align3r-bench stream [--modes live,clip] [--frames N] [--long-side 512] [--threads 2]
        [--soak 2000] [--device cpu] [--out FILE]
    align3r-bench stream --network --device cuda --dtype bf16 [--network-frames 100]

(a) The oracle backend (ground truth turned into pairwise point maps with 2 % noise, so the
network costs nothing and the numbers are the alignment's) on the shared 7-Scenes frames
(``../shared/data/7scenes_redkitchen``, 30 real frames) at network long side 512: every mode
of ``--modes`` in its own fresh process, one after the other in one run (ratios only mean
something within one run on a shared machine). Per mode: the wall time of each ``push``
(median, p95, max; keyframe pushes apart), the mean time per frame (total / frames, the fair
figure for clip mode, whose pushes are mostly free and then one solves a clip), latency in
frames (pushes between a frame's own push and the one that returned its result; flush = one
more), keyframe rate, peak RSS (and peak GPU memory on cuda), ATE (% of the ground-truth path
length after Sim(3)) and median-scaled Abs Rel. ``--soak N`` adds a second run of N frames
walking forward and back over the recording, reporting the resident set after 10 % of it and
at its end.

(b) ``--network``: the full-size Align3R network with random weights and a Depth Anything V2
prior (random weights) in live mode on DAVIS frames at 512 x 288, reporting end-to-end FPS,
per-frame latency and peak GPU memory. Without CUDA it reports ``skipped`` and why.
"""

from __future__ import annotations

import argparse
import platform
from typing import Dict, List, Optional, Sequence

from align3r_ros.benchmarks.align_cases import isolated
from align3r_ros.benchmarks.report import emit_report
from align3r_ros.benchmarks.stream_cases import SEVEN_SCENES, network_run, oracle_run
from align3r_ros.config import StreamMode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='align3r-bench stream',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--modes', default=','.join(m.value for m in StreamMode),
                        help='comma list of stream modes to run side by side (oracle part)')
    parser.add_argument('--frames', type=int, default=0,
                        help='7-Scenes frames (0: all 30)')
    parser.add_argument('--long-side', type=int, default=512, help='network long side (px)')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--device', default='cpu', help='runtime.device: cpu, cuda or auto')
    parser.add_argument('--soak', type=int, default=0,
                        help='frames of the RSS soak run per mode (0: none; e.g. 2000)')
    parser.add_argument('--soak-modes', default=StreamMode.LIVE.value,
                        help='modes that also run the soak')
    parser.add_argument('--network', action='store_true',
                        help='run part (b), the full-size network + prior, instead of (a)')
    parser.add_argument('--network-frames', type=int, default=100,
                        help='timed frames of the network run')
    parser.add_argument('--warmup', type=int, default=5, help='untimed frames before (b)')
    parser.add_argument('--dtype', choices=('fp32', 'fp16', 'bf16'), default='bf16',
                        help='autocast dtype of (b) on cuda')
    parser.add_argument('--prior-model', default='vitl',
                        help='Depth Anything V2 of (b): vits, vitb, vitl or a config.json')
    parser.add_argument('--network-config', default='',
                        help='pairwise network of (b): a name or config.json (default: the '
                             'full-size Align3R)')
    parser.add_argument('--data', default=str(SEVEN_SCENES),
                        help='7-Scenes sequence folder of (a)')
    parser.add_argument('--out', help='also write the JSON here')
    return parser


def _ratios(modes: List[Dict]) -> Dict[str, float]:
    by_mode = {m.get('mode'): m for m in modes if 'error' not in m}
    live, clip = by_mode.get(StreamMode.LIVE.value), by_mode.get(StreamMode.CLIP.value)
    if not (live and clip):
        return {}
    out = {'clip_over_live_seconds_per_frame':
           clip['seconds_per_frame_mean'] / live['seconds_per_frame_mean'],
           'clip_mean_over_live_median_push':
           clip['seconds_per_frame_mean'] / live['push_seconds']['median']}
    for key in ('ate_percent_of_length', 'abs_rel_median_scaled'):
        if key in live and key in clip and clip[key] > 0:
            out[f'live_over_clip_{key}'] = live[key] / clip[key]
    return out


def run(args: argparse.Namespace) -> Dict:
    machine = {'python': platform.python_version(), 'processor': platform.machine()}
    if args.network:
        result = isolated(network_run, args.threads, frames=args.network_frames,
                          device=args.device, dtype=args.dtype, prior_model=args.prior_model,
                          warmup=args.warmup, cpu_threads=args.threads,
                          network=args.network_config)
        return {'benchmark': 'stream', 'part': 'network', 'machine': machine, **result}
    modes = [m.strip() for m in args.modes.split(',') if m.strip()]
    soak_modes = {m.strip() for m in args.soak_modes.split(',')}
    results = [isolated(oracle_run, args.threads, mode=StreamMode(mode).value,
                        frames=args.frames, long_side=args.long_side,
                        soak=args.soak if mode in soak_modes else 0, device=args.device,
                        cpu_threads=args.threads, data=args.data)
               for mode in modes]
    return {'benchmark': 'stream', 'part': 'oracle', 'machine': machine,
            'torch_threads': args.threads, 'data': '7scenes_redkitchen (shared)',
            'modes': results, 'ratios': _ratios(results)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    report = run(args)
    emit_report(report, args.out)
    failed = [m for m in report.get('modes', [report]) if 'error' in m]
    return 1 if failed else 0
