"""``align3r-bench gpu``: the prepared GPU check, one command on a CUDA machine, < 8 minutes.

    python3 -m align3r_ros.tools.bench gpu [--out DIR]     (from the project root; or
    align3r-bench gpu once the package is installed)

Installs nothing: it needs the packages of ``requirements.txt`` (torch with CUDA among them)
already importable, and ``../shared/data`` (or ``ALIGN3R_SHARED_DIR``) for the recordings.
Steps, each in its own process with its own time limit, each reported even when it fails:

1. ``environment``: torch / CUDA versions and the GPU's name (without CUDA: the report says so
   and the other steps are skipped);
2. ``device_tests``: ``pytest -m gpu test/align/test_device.py`` — the alignment's problem
   tensors, both solvers and the re-solve on cuda, results equal to the cpu path;
3. ``network``: ``align3r-bench stream --network --device cuda --dtype bf16`` — the full-size
   Align3R network (random weights) + Depth Anything V2 vitl prior, live mode, 512 x 288,
   10 warm-up then 100 timed frames: end-to-end FPS, latency, peak GPU memory (targets:
   >= 20 FPS, <= 100 ms, <= 8 GB on one H100);
4. ``oracle_live``: ``align3r-bench stream --modes live --device cuda`` — the oracle on the
   shared 7-Scenes frames at long side 512 with the alignment on cuda.

Prints one JSON document (and writes it to ``DIR/gpu_check.json`` with ``--out``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from align3r_ros.benchmarks.report import emit_report

ROOT = Path(__file__).resolve().parents[2]
#: (name, seconds allowed, command after the python executable); 60 + 240 + 150 < 8 minutes.
STEPS = (
    ('device_tests', 60, ['-m', 'pytest', '-q', '-m', 'gpu', '-p', 'no:cacheprovider',
                          'test/align/test_device.py']),
    ('network', 240, ['-m', 'align3r_ros.tools.bench', 'stream', '--network', '--device',
                      'cuda', '--dtype', 'bf16', '--warmup', '10', '--network-frames', '100']),
    ('oracle_live', 150, ['-m', 'align3r_ros.tools.bench', 'stream', '--modes', 'live',
                          '--device', 'cuda', '--long-side', '512']),
)


def environment() -> Dict:
    import torch

    info = {'torch': torch.__version__, 'cuda_available': bool(torch.cuda.is_available()),
            'cuda': torch.version.cuda}
    if info['cuda_available']:
        info['gpu'] = torch.cuda.get_device_name(0)
    return info


def run_step(name: str, seconds: int, command: List[str]) -> Dict:
    """Run one step; its JSON output when it printed one, else the tail of its output."""
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable] + command, cwd=ROOT, capture_output=True,
                              text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        return {'step': name, 'error': f'timed out after {seconds} s'}
    out = {'step': name, 'returncode': done.returncode,
           'seconds': round(time.perf_counter() - start, 1)}
    text = done.stdout.strip()
    try:
        out['report'] = json.loads(text[text.index('{'):]) if '{' in text else None
    except ValueError:
        out['report'] = None
    if out['report'] is None:
        out['output_tail'] = (done.stdout + done.stderr)[-2000:]
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='align3r-bench gpu',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', help='folder for gpu_check.json')
    args = parser.parse_args(argv)
    report: Dict = {'benchmark': 'gpu', 'environment': environment()}
    if not report['environment']['cuda_available']:
        report['skipped'] = 'torch sees no CUDA device: run this on a GPU machine'
        emit_report(report, None)
        return 0
    report['steps'] = [run_step(*step) for step in STEPS]
    out = None
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        out = str(Path(args.out) / 'gpu_check.json')
    emit_report(report, out)
    failed = [s for s in report['steps'] if s.get('returncode') != 0]
    return 1 if failed else 0
