"""align3r-eval: per-sequence and per-dataset scores with the paper's protocols."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from align3r_ros.structures import FrameResult
from align3r_ros.tools import eval as eval_tool


def _write_tum_sequence(folder, n, moving):
    (folder / 'rgb').mkdir(parents=True)
    (folder / 'depth').mkdir()
    rgb_lines, depth_lines, gt_lines = [], [], []
    rng = np.random.default_rng(len(folder.name))
    for i in range(n):
        t = 1000.0 + i / 30.0
        cv2.imwrite(str(folder / 'rgb' / f'{t:.6f}.png'), np.full((12, 16, 3), i, np.uint8))
        depth = (5000 * rng.uniform(1.0, 3.0, size=(12, 16))).astype(np.uint16)
        depth[:2] = 0  # invalid rows
        cv2.imwrite(str(folder / 'depth' / f'{t:.6f}.png'), depth)
        rgb_lines.append(f'{t:.6f} rgb/{t:.6f}.png')
        depth_lines.append(f'{t:.6f} depth/{t:.6f}.png')
        x, y = (0.1 * i, 0.05 * i * i) if moving else (0.0, 0.0)
        gt_lines.append(f'{t:.6f} {x} {y} {0.01 * i if moving else 0.0} 0 0 0 1')
    (folder / 'rgb.txt').write_text('\n'.join(rgb_lines) + '\n')
    (folder / 'depth.txt').write_text('\n'.join(depth_lines) + '\n')
    (folder / 'groundtruth.txt').write_text('\n'.join(gt_lines) + '\n')


def _fake_run_engine(frames, config, mode, progress=None, name=''):
    """Ground truth at scale 0.5 with an offset of 0.1 m in depth (recovered by L1 s, t)."""
    results = []
    for f in frames:
        T = f.gt_T_world_cam.copy()
        T[:3, 3] *= 0.5
        results.append(FrameResult(stamp_ns=f.stamp_ns, depth=(0.5 * f.gt_depth + 0.1).astype(
            np.float32), confidence=np.full(f.shape, 5.0, np.float32), K=np.eye(3),
            T_world_cam=T, is_metric=False, dynamic_mask=np.zeros(f.shape, bool), tag=f.tag))
    return results


def test_dataset_average_weights_and_skipped_sequences(tmp_path, monkeypatch, capsys):
    root = tmp_path / 'tum'
    _write_tum_sequence(root / 'rgbd_dataset_freiburg3_a', 40, moving=True)
    _write_tum_sequence(root / 'rgbd_dataset_freiburg3_b', 35, moving=False)
    monkeypatch.setattr(eval_tool, 'run_engine', _fake_run_engine)
    out = tmp_path / 'out'
    assert eval_tool.main(['--dataset', 'tum', str(root), '--output', str(out)]) == 0
    summary = json.loads((out / 'eval.json').read_text())
    seq_a = summary['per_sequence']['rgbd_dataset_freiburg3_a']
    seq_b = summary['per_sequence']['rgbd_dataset_freiburg3_b']
    # TUM protocol: frames 30..79 -> 10 and 5 frames here.
    assert seq_a['frames'] == 10 and seq_b['frames'] == 5
    assert seq_a['depth']['abs_rel'] < 1e-4 and seq_a['depth']['scale'] == pytest.approx(2.0,
                                                                                         rel=1e-3)
    assert seq_a['depth']['valid_pixels'] == 10 * 10 * 16
    assert seq_a['pose']['ate'] < 1e-9
    assert 'Degenerate' in seq_b['pose']['skipped'] and seq_b['pose']['ate'] is None
    average = summary['average']
    assert average['depth']['valid_pixels'] == 15 * 10 * 16
    assert average['pose']['sequences_used'] == 1
    assert average['pose']['sequences_skipped'] == ['rgbd_dataset_freiburg3_b']
    assert (out / 'rgbd_dataset_freiburg3_a' / 'report.json').is_file()
    captured = capsys.readouterr()
    assert 'tum (average)' in captured.out
    # progress: a bar over the sequences (stderr); each sequence's line on stdout through it
    assert any(part.startswith('sequences: 100%') and '2/2' in part
               for part in captured.err.split('\r'))
    assert [line for line in captured.out.splitlines() if 'AbsRel' in line][:2] == [
        line for line in captured.out.splitlines() if line.startswith('rgbd_dataset')]


def test_sequence_selection_errors(tmp_path, monkeypatch, capsys):
    root = tmp_path / 'tum'
    _write_tum_sequence(root / 'seq', 3, moving=True)
    monkeypatch.setattr(eval_tool, 'run_engine', _fake_run_engine)
    assert eval_tool.main(['--dataset', 'tum', str(root), '--sequences', 'other']) == 1
    assert 'other not found; available: seq' in capsys.readouterr().err
    assert eval_tool.main(['--dataset', 'sintel', str(root)]) == 1
    assert 'no sintel sequence' in capsys.readouterr().err


@pytest.mark.slow
def test_seven_scenes_with_the_oracle(shared, tmp_path):
    """The real engine (offline hierarchical) with the oracle on 10 real frames."""
    out = tmp_path / 'out'
    assert eval_tool.main(['--dataset', '7scenes', str(shared / 'data' / '7scenes_redkitchen'),
                           '--frames', '10', '--pairwise-backend', 'oracle',
                           '--preprocess-long-side', '64', '--output', str(out),
                           '--quiet']) == 0
    summary = json.loads((out / 'eval.json').read_text())
    assert summary['average']['depth']['abs_rel'] < 0.03
    assert summary['average']['pose']['ate'] < 0.02
