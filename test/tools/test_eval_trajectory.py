"""align3r-eval --trajectory: one TUM file per sequence, the input stamps, evo's APE (-as)
equal to the sequence's reported ATE; locations checked before any work."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from align3r_ros.evaluation.dataset_files import read_tum_trajectory
from align3r_ros.geometry.quaternion import quaternion_to_matrix
from align3r_ros.structures import FrameResult
from align3r_ros.tools import eval as eval_tool

SEQUENCES = ('rgbd_dataset_freiburg3_a', 'rgbd_dataset_freiburg3_b')


def _write_sequence(folder, n):
    """A TUM RGB-D layout sequence on a curved, non-planar camera path (a Sim(3) fit needs
    rank >= 2; a mirrored path could not pass for the right one)."""
    (folder / 'rgb').mkdir(parents=True)
    (folder / 'depth').mkdir()
    rgb, depth, poses = [], [], []
    for i in range(n):
        t = f'{1000.0 + i / 30.0:.6f}'
        cv2.imwrite(str(folder / 'rgb' / f'{t}.png'), np.full((12, 16, 3), 10 * i, np.uint8))
        cv2.imwrite(str(folder / 'depth' / f'{t}.png'), np.full((12, 16), 10000, np.uint16))
        rgb.append(f'{t} rgb/{t}.png')
        depth.append(f'{t} depth/{t}.png')
        poses.append(f'{t} {0.1 * i} {0.05 * i * i} {0.3 * np.sin(i)} 0 0 0 1')  # not planar
    for name, lines in (('rgb.txt', rgb), ('depth.txt', depth), ('groundtruth.txt', poses)):
        (folder / name).write_text('\n'.join(lines) + '\n')


def _noisy_run_engine(frames, config, mode, progress=None, name=''):
    """Ground truth in another world (rotation, offset, scale 0.4) with position noise: a
    trajectory whose ATE after Sim(3) is clearly above zero."""
    rng = np.random.default_rng(len(frames))
    R = quaternion_to_matrix(np.array([0.1, -0.2, 0.3, 0.9]))
    world = np.eye(4)
    world[:3, :3], world[:3, 3] = R, [1.0, -2.0, 0.5]
    results = []
    for f in frames:
        T = world @ f.gt_T_world_cam
        T[:3, 3] = 0.4 * T[:3, 3] + rng.normal(0.0, 0.01, 3)
        results.append(FrameResult(stamp_ns=f.stamp_ns, depth=f.gt_depth.astype(np.float32),
                                   confidence=np.full(f.shape, 5.0, np.float32), K=np.eye(3),
                                   T_world_cam=T, is_metric=False,
                                   dynamic_mask=np.zeros(f.shape, bool), tag=f.tag))
    return results


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    root = tmp_path / 'tum'
    for name in SEQUENCES:
        _write_sequence(root / name, 8)
    monkeypatch.setattr(eval_tool, 'run_engine', _noisy_run_engine)
    return root


def _evo_ape(estimate_file, reference_file) -> float:
    metrics = pytest.importorskip('evo.core.metrics', reason='evo is not installed')
    from evo.core import sync
    from evo.tools import file_interface

    reference = file_interface.read_tum_trajectory_file(str(reference_file))
    estimate = file_interface.read_tum_trajectory_file(str(estimate_file))
    reference, estimate = sync.associate_trajectories(reference, estimate)
    estimate.align(reference, correct_scale=True)  # evo_ape tum GT EST -as
    ape = metrics.APE(metrics.PoseRelation.translation_part)
    ape.process_data((reference, estimate))
    return ape.get_statistic(metrics.StatisticsType.rmse)


def test_one_file_per_sequence_in_a_folder(dataset, tmp_path):
    out, trajectories = tmp_path / 'out', tmp_path / 'traj'
    args = ['--dataset', 'tum', str(dataset), '--start', '0', '--frames', '8', '--quiet',
            '--output', str(out), '--trajectory', str(trajectories)]
    assert eval_tool.main(args) == 0
    assert sorted(p.name for p in trajectories.iterdir()) == [f'{n}.txt' for n in SEQUENCES]
    summary = json.loads((out / 'eval.json').read_text())
    for name in SEQUENCES:
        written = read_tum_trajectory(trajectories / f'{name}.txt')
        stamps = [line.split()[0] for line in
                  (dataset / name / 'rgb.txt').read_text().splitlines()]
        assert [f'{ns / 1e9:.6f}' for ns in written.stamps_ns] == stamps
        ate = summary['per_sequence'][name]['pose']['ate']
        assert ate > 1e-3
        evo_ate = _evo_ape(trajectories / f'{name}.txt', dataset / name / 'groundtruth.txt')
        assert evo_ate == pytest.approx(ate, rel=1e-6)


def test_pattern_and_existing_files(dataset, tmp_path, capsys):
    pattern = str(tmp_path / 'poses' / '{sequence}_est.tum')
    args = ['--dataset', 'tum', str(dataset), '--start', '0', '--frames', '8', '--quiet',
            '--trajectory', pattern]
    assert eval_tool.main(args) == 0
    files = sorted(p.name for p in (tmp_path / 'poses').iterdir())
    assert files == [f'{n}_est.tum' for n in SEQUENCES]
    first = tmp_path / 'poses' / files[0]
    first.write_text('keep\n')
    assert eval_tool.main(args) == 1  # refused before any work, nothing replaced
    assert 'exists already' in capsys.readouterr().err and first.read_text() == 'keep\n'
    assert eval_tool.main(args + ['--force']) == 0
    assert len(read_tum_trajectory(first)) == 8
