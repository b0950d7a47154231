"""SIGINT / SIGTERM in the real entry points: exit 130 / 143, one line, no traceback, nothing
half-written left; and staging a killed run left behind is cleared on the next run."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from support.tool_process import (SIGNALS, blocking_image_folder, hidden_entries, run_tool,
                                  signal_when, staging_appeared)


@pytest.mark.parametrize('signum, code, word', SIGNALS)
def test_bag_from_frames_signal_leaves_nothing(tmp_path, signum, code, word):
    images = blocking_image_folder(tmp_path / 'images')
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    done = signal_when('bag_from_frames', [images, '-o', out_dir / 'bag'],
                       staging_appeared(out_dir, 'bag'), signum)
    assert done.code == code, done.err
    assert len(done.err_lines) == 1 and word in done.err and 'Traceback' not in done.err
    assert list(out_dir.iterdir()) == []  # neither the bag nor its staging


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_stale_staging_of_a_killed_run_is_removed(tmp_path):
    images = blocking_image_folder(tmp_path / 'images')
    (images / '002.png').unlink()  # no FIFO: this run completes
    stale = tmp_path / f'.bag.partial-{_dead_pid()}'
    (stale / 'bag').mkdir(parents=True)
    (stale / 'bag' / 'bag_0.db3').write_bytes(b'half a bag')
    done = run_tool('bag_from_frames', [images, '-o', tmp_path / 'bag', '--quiet'])
    assert done.code == 0, done.err
    assert f'removed {stale}' in done.err
    assert hidden_entries(tmp_path) == [] and (tmp_path / 'bag' / 'metadata.yaml').is_file()


def test_sigkill_leftovers_then_rerun(tmp_path):
    """What SIGKILL (no handler can run) leaves, the next run clears."""
    images = blocking_image_folder(tmp_path / 'images')
    killed = signal_when('bag_from_frames', [images, '-o', tmp_path / 'bag'],
                         staging_appeared(tmp_path, 'bag'), signal.SIGKILL)
    assert killed.code == -signal.SIGKILL
    assert [n for n in hidden_entries(tmp_path) if n.startswith('.bag.partial-')]
    (images / '002.png').unlink()
    done = run_tool('bag_from_frames', [images, '-o', tmp_path / 'bag', '--quiet'])
    assert done.code == 0 and 'left by an interrupted run' in done.err
    assert hidden_entries(tmp_path) == []
