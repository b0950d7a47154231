"""Dataset layouts: the real 7-Scenes frames, and tiny synthetic TUM and Sintel trees."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from align3r_ros.errors import InputError
from align3r_ros.evaluation import dataset_files
from align3r_ros.evaluation.datasets import DatasetKind, list_sequences, load_sequence


def test_seven_scenes_real_frames(shared):
    root = shared / 'data' / '7scenes_redkitchen'
    sequences = list_sequences(DatasetKind.SEVEN_SCENES, root)
    assert sequences == [root]
    data = load_sequence(DatasetKind.SEVEN_SCENES, root, frames=4, stride=2)
    assert len(data.frames) == 4
    first, second = data.frames[0], data.frames[1]
    assert first.rgb.shape == (480, 640, 3) and first.gt_depth.shape == (480, 640)
    assert np.allclose(first.K, [[585, 0, 320], [0, 585, 240], [0, 0, 1]])
    # frame-000006 is the 3rd file: 6 / 30 s.
    assert second.stamp_ns == 200_000_000
    valid = np.isfinite(first.gt_depth)
    assert 0.8 < valid.mean() < 1.0 and np.nanmax(first.gt_depth) < 4.0
    gt = dataset_files.read_tum_trajectory(root / 'groundtruth_tum.txt')
    assert np.allclose(gt.T_world_cam[0, :3, 3], first.gt_T_world_cam[:3, 3], atol=1e-7)
    # 7-Scenes rotations are not exactly orthonormal (KinectFusion); the TUM file holds their
    # rotations as quaternions of a projected rotation: they agree to within a degree.
    R_delta = gt.T_world_cam[0, :3, :3].T @ first.gt_T_world_cam[:3, :3]
    assert np.degrees(np.arccos(np.clip((np.trace(R_delta) - 1) / 2, -1, 1))) < 1.0


def _write_tum_sequence(folder, n=6):
    (folder / 'rgb').mkdir(parents=True)
    (folder / 'depth').mkdir()
    rgb_lines, depth_lines, gt_lines = [], [], []
    for i in range(n):
        t = 100.0 + i / 30.0
        cv2.imwrite(str(folder / 'rgb' / f'{t:.6f}.png'), np.full((8, 10, 3), i, np.uint8))
        depth = np.full((8, 10), 5000 * (1 + i), np.uint16)
        depth[0, 0] = 0
        cv2.imwrite(str(folder / 'depth' / f'{t + 0.004:.6f}.png'), depth)
        rgb_lines.append(f'{t:.6f} rgb/{t:.6f}.png')
        depth_lines.append(f'{t + 0.004:.6f} depth/{t + 0.004:.6f}.png')
    for k in range(n * 4):
        t = 100.0 + k / 120.0
        gt_lines.append(f'{t:.4f} {k * 0.01:.4f} 0 0 0 0 0 1')
    (folder / 'rgb.txt').write_text('# colour\n' + '\n'.join(rgb_lines) + '\n')
    (folder / 'depth.txt').write_text('\n'.join(depth_lines) + '\n')
    (folder / 'groundtruth.txt').write_text('# t x y z qx qy qz qw\n' + '\n'.join(gt_lines))


def test_tum_layout_associates_depth_and_poses(tmp_path):
    folder = tmp_path / 'rgbd_dataset_freiburg3_walking_xyz'
    _write_tum_sequence(folder)
    assert list_sequences(DatasetKind.TUM, tmp_path) == [folder]
    data = load_sequence(DatasetKind.TUM, folder, start=1, frames=3)
    assert [f.rgb[0, 0, 0] for f in data.frames] == [1, 2, 3]
    assert data.frames[0].gt_depth[1, 1] == pytest.approx(2.0)
    assert np.isnan(data.frames[0].gt_depth[0, 0])
    assert data.frames[0].K[0, 0] == pytest.approx(535.4)
    # Frame 2 at 100 + 2/30 s; the nearest pose line is k = 8 (x = 0.08).
    assert data.frames[1].gt_T_world_cam[0, 3] == pytest.approx(0.08)


def test_sintel_layout_and_file_formats(tmp_path):
    base = tmp_path / 'training'
    for sub in ('final/alley_1', 'depth/alley_1', 'camdata_left/alley_1'):
        (base / sub).mkdir(parents=True)
    K = np.array([[100.0, 0, 5], [0, 100.0, 4], [0, 0, 1]])
    for i in (1, 2, 3):
        cv2.imwrite(str(base / 'final/alley_1' / f'frame_{i:04d}.png'),
                    np.zeros((8, 10, 3), np.uint8))
        dataset_files.write_dpt(base / 'depth/alley_1' / f'frame_{i:04d}.dpt',
                                np.full((8, 10), float(i), np.float32))
        T_cam_world = np.eye(4)
        T_cam_world[:3, 3] = [0.0, 0.0, -i]
        dataset_files.write_cam(base / 'camdata_left/alley_1' / f'frame_{i:04d}.cam', K,
                                T_cam_world)
    sequences = list_sequences(DatasetKind.SINTEL, tmp_path)
    assert [p.name for p in sequences] == ['alley_1']
    data = load_sequence(DatasetKind.SINTEL, sequences[0])
    assert len(data.frames) == 3 and data.frames[2].gt_depth[0, 0] == 3.0
    assert np.allclose(data.frames[1].K, K)
    assert data.frames[1].gt_T_world_cam[2, 3] == pytest.approx(2.0)  # inverted extrinsic
    (base / 'depth/alley_1/frame_0001.dpt').write_bytes(b'\x00' * 8)
    with pytest.raises(InputError, match='truncated'):
        dataset_files.read_dpt(base / 'depth/alley_1/frame_0001.dpt')


def test_missing_root_and_empty_root(tmp_path):
    with pytest.raises(InputError, match='not a directory'):
        list_sequences(DatasetKind.BONN, tmp_path / 'nope')
    with pytest.raises(InputError, match='no bonn sequence'):
        list_sequences(DatasetKind.BONN, tmp_path)
