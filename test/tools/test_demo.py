"""A fresh clone: ``align3r-demo`` runs with no data, weights or ROS, and pytest says in one line
why tests that need ``../shared`` skipped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from align3r_ros.bag.reader import BagReader

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env.update(extra)
    return env


def _demo(args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'align3r_ros.tools.demo'] + args, cwd=cwd,
                          capture_output=True, text=True, timeout=900,
                          env=_env(ALIGN3R_SHARED_DIR=str(cwd / 'no_shared_here')))


def test_demo_from_an_empty_folder_writes_bags_and_a_report(tmp_path):
    """12 frames: one 10-frame clip and a flushed tail, through the real engine and oracle.

    Bounds as the replay tests': the oracle's 2 % relative noise averaged over pairs leaves
    Abs Rel well under 0.03 after the L1 fit; the 12 frames span ~0.4 m, ATE under 5 cm.
    """
    run = _demo(['-o', 'demo', '--frames', '12', '--quiet'], tmp_path)
    assert run.returncode == 0, run.stderr
    demo = tmp_path / 'demo'
    lines = run.stdout.splitlines()
    assert any(line.endswith(f'-> {Path("demo") / "input_bag"}') for line in lines), lines
    assert any(f'-> {Path("demo") / "output_bag"}' in line for line in lines), lines
    assert any(f'{Path("demo") / "report" / "report.md"}' in line for line in lines), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ['demo']  # no staging left behind
    assert {p.name for p in (demo / 'report').iterdir()} == {
        'report.json', 'report.md', 'trajectory.png', 'errors.png', 'depth_strip.png'}
    report = json.loads((demo / 'report' / 'report.json').read_text())
    assert report['frames'] == 12 and report['settings']['pairwise backend'] == 'oracle'
    assert report['depth']['abs_rel'] < 0.03 and report['depth']['delta_1_25'] > 0.97
    assert report['pose']['ate'] < 0.05
    with BagReader(demo / 'output_bag') as reader:
        counts = {t.name: t.count for t in reader.topics}
    assert counts['/align3r/depth/image'] == 12 and counts['/tf'] == 12
    with BagReader(demo / 'input_bag') as reader:
        counts = {t.name: t.count for t in reader.topics}
    assert counts['/camera/image_raw'] == 12 and counts['/ground_truth/pose'] == 12

    again = _demo(['-o', 'demo', '--frames', '12', '--quiet'], tmp_path)
    assert again.returncode == 1 and 'exists already' in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_pytest_summary_says_in_one_line_why_shared_tests_skipped(tmp_path):
    missing = tmp_path / 'nowhere'
    run = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
         'test/tools/test_replay.py'], cwd=PROJECT_ROOT, capture_output=True, text=True,
        timeout=900, env=_env(ALIGN3R_SHARED_DIR=str(missing)))
    assert run.returncode == 0, run.stdout[-2000:]
    skipped = int(re.search(r'(\d+) skipped', run.stdout).group(1))
    lines = [line for line in run.stdout.splitlines() if 'shared folder not found' in line]
    assert skipped > 0
    assert lines == [f'{skipped} tests skipped: shared folder not found at {missing} (parity '
                     'fixtures and real recordings; set ALIGN3R_SHARED_DIR to its location '
                     'to run them)']


@pytest.mark.slow
def test_the_readme_shows_what_the_demo_prints(tmp_path):
    """README's demo output, run as written (30 frames); only the timing may differ."""
    readme = (PROJECT_ROOT / 'README.md').read_text(encoding='utf-8')
    block = readme.split('```\n$ align3r-demo\n', 1)[1].split('\n```', 1)[0]
    run = _demo([], tmp_path)
    assert run.returncode == 0, run.stderr

    def untimed(text):
        return re.sub(r'\d+\.\d ms/frame', 'T ms/frame', text).strip().splitlines()
    assert untimed(run.stdout) == untimed(block)
