"""align3r-bag-from-frames: image folders, videos and dataset sequences into rosbag2."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from align3r_ros.bag.input_frames import BagFrameSource
from align3r_ros.bag.reader import BagReader
from align3r_ros.bag.topics import select_input_topics
from align3r_ros.tools import bag_from_frames


def _frames(path, **topics):
    with BagReader(path) as reader:
        source = BagFrameSource(reader, select_input_topics(reader.topics, **topics))
        source.scan()
        return list(source), {t.name: t.count for t in reader.topics}


def test_seven_scenes_dataset_mode(shared, tmp_path):
    out = tmp_path / 'kitchen'
    code = bag_from_frames.main([str(shared / 'data' / '7scenes_redkitchen'), '-o', str(out),
                                 '--dataset', '7scenes', '--frames', '3', '--stride', '2',
                                 '--start-time', '100', '--storage', 'mcap', '--quiet'])
    assert code == 0
    frames, counts = _frames(out, gt_depth='/camera/depth/image_raw',
                             gt_pose='/ground_truth/pose')
    assert counts == {'/camera/image_raw': 3, '/camera/camera_info': 3,
                      '/camera/depth/image_raw': 3, '/ground_truth/pose': 3}
    # frames 0, 6, 12 -> 0, 0.2, 0.4 s after the 100 s offset
    assert [f.frame.stamp_ns for f in frames] == [100 * 10**9, 100_200_000_000,
                                                  100_400_000_000]
    pose = np.loadtxt(shared / 'data' / '7scenes_redkitchen' / 'pose' / 'frame-000006.pose.txt')
    assert np.allclose(frames[1].frame.gt_T_world_cam[:3, 3], pose[:3, 3])
    depth_mm = cv2.imread(str(shared / 'data' / '7scenes_redkitchen' / 'depth' /
                              'frame-000006.depth.png'), cv2.IMREAD_UNCHANGED)
    valid = (depth_mm > 0) & (depth_mm < 65535)
    assert np.allclose(frames[1].frame.gt_depth[valid], depth_mm[valid] / 1000.0)
    assert np.isnan(frames[1].frame.gt_depth[~valid]).all()
    assert np.allclose(frames[0].frame.K, [[585, 0, 320], [0, 585, 240], [0, 0, 1]])


def test_image_folder_with_side_inputs(shared, tmp_path):
    root = shared / 'data' / '7scenes_redkitchen'
    out = tmp_path / 'generic'
    code = bag_from_frames.main([str(root / 'color'), '-o', str(out), '--intrinsics',
                                 '585,585,320,240', '--depth', str(root / 'depth'),
                                 '--pose-dir', str(root / 'pose'), '--frames', '2', '--fps',
                                 '10', '--compressed', '--quiet'])
    assert code == 0
    frames, counts = _frames(out, gt_depth='/camera/depth/image_raw',
                             gt_pose='/ground_truth/pose')
    assert '/camera/image_raw/compressed' in counts
    assert [f.frame.stamp_ns for f in frames] == [0, 100_000_000]
    assert frames[1].frame.gt_depth is not None and frames[1].frame.K[0, 0] == 585


def test_video_input_and_tum_poses_by_order(tmp_path):
    video = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10, (32, 24))
    for i in range(4):
        writer.write(np.full((24, 32, 3), 40 * i, np.uint8))
    writer.release()
    poses = tmp_path / 'poses.txt'
    poses.write_text(''.join(f'{i} {i * 0.1} 0 0 0 0 0 1\n' for i in range(4)))
    out = tmp_path / 'video'
    assert bag_from_frames.main([str(video), '-o', str(out), '--poses', str(poses),
                                 '--quiet']) == 0
    frames, _ = _frames(out, gt_pose='/ground_truth/pose')
    assert len(frames) == 4 and frames[2].frame.gt_T_world_cam[0, 3] == pytest.approx(0.2)
    assert frames[0].frame.K is None  # no intrinsics given: no CameraInfo


def test_errors(tmp_path, capsys):
    assert bag_from_frames.main([str(tmp_path / 'none'), '-o', str(tmp_path / 'o')]) == 1
    assert 'cannot open video' in capsys.readouterr().err
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert bag_from_frames.main([str(empty), '-o', str(tmp_path / 'o')]) == 1
    assert 'no files' in capsys.readouterr().err
    assert bag_from_frames.main([str(empty), '-o', str(tmp_path / 'o'), '--intrinsics',
                                 '1,2']) == 1
    assert not (tmp_path / 'o').exists()


def _video(path, fps, count=6, size=(32, 24)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, size)
    for i in range(count):
        writer.write(np.full((size[1], size[0], 3), 30 * i, np.uint8))
    writer.release()
    return path


def test_video_keeps_its_own_time_base(tmp_path):
    video = _video(tmp_path / 'kitti.avi', 11.85)
    assert bag_from_frames.main([str(video), '-o', str(tmp_path / 'own'), '--quiet']) == 0
    frames, _ = _frames(tmp_path / 'own')
    stamps = [f.frame.stamp_ns for f in frames]
    assert stamps == [round(i * 1e9 / 11.85) for i in range(6)]  # not 1/30 s apart
    # --fps overrides the container's rate; --stride keeps the original frames' stamps
    assert bag_from_frames.main([str(video), '-o', str(tmp_path / 'forced'), '--fps', '5',
                                 '--stride', '2', '--quiet']) == 0
    frames, _ = _frames(tmp_path / 'forced')
    assert [f.frame.stamp_ns for f in frames] == [0, 400_000_000, 800_000_000]


def test_video_without_a_rate_needs_fps(tmp_path, monkeypatch, capsys):
    video = _video(tmp_path / 'norate.avi', 10)
    monkeypatch.setattr(bag_from_frames, 'video_fps', lambda path: (_ for _ in ()).throw(
        bag_from_frames.InputError(f'video {path} states no usable frame rate (0.0); give '
                                   '--fps')))
    assert bag_from_frames.main([str(video), '-o', str(tmp_path / 'o')]) == 1
    assert 'give --fps' in capsys.readouterr().err and not (tmp_path / 'o').exists()
    assert bag_from_frames.main([str(video), '-o', str(tmp_path / 'o'), '--fps', '4',
                                 '--quiet']) == 0
