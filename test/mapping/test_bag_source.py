"""Reading an output bag for mapping (no Open3D needed): poses from odometry and from the TF
tree agree with the truth, masks pair with their depth by stamp in either bag order, and a bag
missing what a map needs is one named BagError."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.bag.reader import BagReader
from align3r_ros.errors import BagError
from align3r_ros.mapping.bag_source import TF_SOURCE, MapTopics, OutputBagSource
from mapping.map_bags import NAMES, PARTS, WORLD, synthetic_map_frames, write_output_bag


@pytest.fixture(scope='module')
def frames():
    return synthetic_map_frames()


def _read(path, topics=MapTopics(), need_mask=False):
    with BagReader(path) as reader:
        source = OutputBagSource(reader, topics, need_mask=need_mask)
        source.scan()
        return list(source), source


@pytest.mark.parametrize('pose', [None, TF_SOURCE, NAMES.odometry])
@pytest.mark.parametrize('mask_delay_ns', [0, 5_000_000])
def test_frames_carry_the_truth_they_were_written_from(frames, tmp_path, pose, mask_delay_ns):
    bag = write_output_bag(tmp_path / 'bag', frames, mask_for=[1, 3],
                           mask_delay_ns=mask_delay_ns)
    read, source = _read(bag, MapTopics(pose=pose))
    assert [f.stamp_ns for f in read] == [f.stamp_ns for f in frames]
    assert source.world_frame == WORLD and not source.skipped
    for ours, truth in zip(read, frames):
        np.testing.assert_allclose(ours.T_world_cam, truth.T_world_cam, atol=1e-9)
        np.testing.assert_array_equal(ours.depth, truth.depth)
        np.testing.assert_allclose(ours.K, truth.K)
    assert [f.dynamic_mask is not None for f in read] == [False, True, False, True, False,
                                                          False]
    assert read[1].dynamic_mask.any()
    np.testing.assert_array_equal(read[3].dynamic_mask, frames[3].dynamic_mask)


def test_with_the_mask_required_frames_without_one_are_skipped_and_counted(frames, tmp_path):
    bag = write_output_bag(tmp_path / 'bag', frames, mask_for=[0, 2, 4])
    read, source = _read(bag, need_mask=True)
    assert [f.stamp_ns for f in read] == [frames[i].stamp_ns for i in (0, 2, 4)]
    assert dict(source.skipped) == {'no dynamic mask at its stamp': 3}
    assert any(f.dynamic_mask.any() for f in read)
    for frame in read:
        fused = frame.depth_to_fuse(apply_mask=True)
        assert np.isnan(fused[frame.dynamic_mask]).all()
        np.testing.assert_array_equal(fused[~frame.dynamic_mask],
                                      frame.depth[~frame.dynamic_mask])


@pytest.mark.parametrize('missing, words', [
    ('depth', 'no depth images'), ('camera_info', 'no CameraInfo'),
    ('odometry+tf', 'no camera poses')])
def test_a_bag_without_what_a_map_needs_is_one_named_error(frames, tmp_path, missing, words):
    parts = [p for p in PARTS if p not in missing.split('+')]
    bag = write_output_bag(tmp_path / 'bag', frames, parts=parts)
    with pytest.raises(BagError) as info:
        _read(bag)
    message = str(info.value)
    assert words in message and 'it has:' in message and '\n' not in message


def test_the_mask_required_but_absent_is_named(frames, tmp_path):
    bag = write_output_bag(tmp_path / 'bag', frames, parts=[p for p in PARTS if p != 'mask'])
    with pytest.raises(BagError, match='no dynamic mask'):
        _read(bag, need_mask=True)


def test_odometry_of_another_frame_is_refused_unless_tf_gives_the_camera(frames, tmp_path):
    bag = write_output_bag(tmp_path / 'bag', frames, parts=['depth', 'camera_info', 'odometry'],
                           odometry_child='base_link')
    with pytest.raises(BagError, match='base_link.*--pose-topic tf'):
        _read(bag)
    bag = write_output_bag(tmp_path / 'bag2', frames, odometry_child='base_link')
    read, _ = _read(bag, MapTopics(pose=TF_SOURCE))
    np.testing.assert_allclose(read[2].T_world_cam, frames[2].T_world_cam, atol=1e-9)
