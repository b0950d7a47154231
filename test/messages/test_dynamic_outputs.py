"""The dynamic mask, the confidence image and exclude_dynamic in the one composition."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.config_io import load_config
from align3r_ros.errors import ConversionError
from align3r_ros.messages import compose
from align3r_ros.messages.dynamic import confidence_image, dynamic_fraction, grow_mask
from align3r_ros.messages.image import as_uint8, depth_msg_to_metres
from align3r_ros.messages.point_cloud import cloud_msg_to_arrays
from align3r_ros.structures import FrameResult

H, W = 12, 16
K = np.array([[10.0, 0.0, 7.5], [0.0, 10.0, 5.5], [0.0, 0.0, 1.0]])
STAMP = 1_700_000_000_123_456_789


def _result() -> FrameResult:
    depth = np.linspace(1.0, 3.0, H * W, dtype=np.float32).reshape(H, W)
    depth[0, 0] = np.nan
    confidence = np.full((H, W), 5.0, np.float32)
    confidence[0, 1] = 0.0   # no confidence: NaN in the image, masked in the depth
    confidence[9, 2] = 2.0   # below the default threshold 3
    mask = np.zeros((H, W), bool)
    mask[4:7, 6:9] = True    # a 3x3 mover
    mask[11, 15] = True      # one pixel in a corner
    return FrameResult(stamp_ns=STAMP, depth=depth, confidence=confidence, K=K,
                       T_world_cam=np.eye(4), is_metric=True, dynamic_mask=mask,
                       rgb=np.full((H, W, 3), 9, np.uint8))


def _config(**output):
    return load_config({'output': {'point_stride': 1, **output}})


def _mono8(msg) -> np.ndarray:
    assert msg.encoding == 'mono8' and msg.step == msg.width
    return as_uint8(msg.data).reshape(msg.height, msg.width)


def test_grow_mask_is_a_disk_and_zero_keeps_the_mask():
    mask = np.zeros((9, 9), bool)
    mask[4, 4] = True
    assert np.array_equal(grow_mask(mask, 0), mask)
    yy, xx = np.mgrid[:9, :9]
    for radius in (1, 2, 3):
        disk = (yy - 4) ** 2 + (xx - 4) ** 2 <= radius ** 2
        assert np.array_equal(grow_mask(mask, radius), disk)
    assert grow_mask(mask, 1).sum() == 5 and grow_mask(mask, 2).sum() == 13
    with pytest.raises(ConversionError):
        grow_mask(mask, -1)
    with pytest.raises(ConversionError):
        grow_mask(np.zeros(4, bool), 1)


@pytest.mark.parametrize('radius', [0, 1, 3])
def test_mask_image_is_the_grown_engine_mask_with_the_depth_header(types, radius):
    result = _result()
    messages = compose.compose_result(result, 'cam', _config(dynamic_dilate_px=radius), types)
    pixels = _mono8(messages.dynamic_mask)
    assert set(np.unique(pixels)) == {0, 255}
    assert np.array_equal(pixels == 255, grow_mask(result.dynamic_mask, radius))
    assert (pixels == 255).sum() >= result.dynamic_mask.sum() + (radius > 0)
    depth = messages.depth
    for msg in (messages.dynamic_mask, messages.dynamic_mask_info, messages.confidence):
        assert msg.header == depth.header and msg.header is not depth.header
    for msg in (messages.dynamic_mask, messages.confidence):
        assert (msg.height, msg.width) == (depth.height, depth.width)
    info, depth_info = messages.dynamic_mask_info, messages.depth_info
    assert np.array_equal(info.k, depth_info.k) and np.array_equal(info.p, depth_info.p)
    assert (info.height, info.width, info.distortion_model) == \
        (depth_info.height, depth_info.width, depth_info.distortion_model)


def test_confidence_image_is_what_the_threshold_is_compared_with(types):
    result = _result()
    messages = compose.compose_result(result, 'cam', _config(), types)
    assert messages.confidence.encoding == '32FC1'
    values = depth_msg_to_metres(messages.confidence)  # a 32FC1 decode: NaN stays NaN
    assert np.isnan(values[0, 1])  # confidence 0: none
    assert values[9, 2] == pytest.approx(2.0) and values[3, 3] == pytest.approx(5.0)
    assert np.isfinite(values).sum() == H * W - 1
    assert np.array_equal(np.isnan(confidence_image(result)), np.isnan(values))


@pytest.mark.parametrize('radius', [0, 2])
def test_exclude_dynamic_removes_the_mask_pixels_and_nothing_else(types, radius):
    """The pixel sets: NaN with exclusion == NaN without it, plus exactly the mask's pixels."""
    result = _result()
    kept = compose.compose_result(result, 'cam', _config(dynamic_dilate_px=radius), types)
    excluded = compose.compose_result(
        result, 'cam', _config(dynamic_dilate_px=radius, exclude_dynamic=True), types)
    mask = _mono8(excluded.dynamic_mask) == 255
    assert np.array_equal(mask, _mono8(kept.dynamic_mask) == 255)
    before = np.isfinite(depth_msg_to_metres(kept.depth))
    after = np.isfinite(depth_msg_to_metres(excluded.depth))
    assert np.array_equal(after, before & ~mask)
    assert (before & mask).sum() >= result.dynamic_mask.sum()  # something was removed
    cloud_before = np.isfinite(cloud_msg_to_arrays(kept.cloud).xyz[..., 2])
    cloud_after = np.isfinite(cloud_msg_to_arrays(excluded.cloud).xyz[..., 2])
    assert np.array_equal(cloud_after, cloud_before & ~mask)
    # the values that stay are unchanged, the result itself too
    assert np.array_equal(depth_msg_to_metres(excluded.depth)[after],
                          depth_msg_to_metres(kept.depth)[after])
    assert np.isfinite(result.depth[5, 7])


def test_exclusion_applies_without_publishing_the_mask(types):
    result = _result()
    messages = compose.compose_result(result, 'cam', _config(
        exclude_dynamic=True, publish_dynamic_mask=False, publish_confidence=False), types)
    assert messages.dynamic_mask is None and messages.dynamic_mask_info is None
    assert messages.confidence is None
    depth = depth_msg_to_metres(messages.depth)
    assert not np.isfinite(depth[grow_mask(result.dynamic_mask, 2)]).any()


def test_toggles_off_leave_only_the_mask(types):
    messages = compose.compose_result(_result(), 'cam', _config(
        publish_depth=False, publish_cloud=False, publish_confidence=False), types)
    assert messages.depth is None and messages.cloud is None and messages.confidence is None
    assert messages.dynamic_mask is not None and messages.dynamic_mask_info is not None


def test_mask_of_another_size_is_a_conversion_error(types):
    import dataclasses

    result = dataclasses.replace(_result(), dynamic_mask=np.zeros((H, W + 1), bool))
    with pytest.raises(ConversionError, match='does not match'):
        compose.compose_result(result, 'cam', _config(), types)


def test_dynamic_fraction():
    assert dynamic_fraction(_result()) == pytest.approx(10 / (H * W))


def test_mask_and_confidence_round_trip_cdr(types, cdr_round_trip):
    messages = compose.compose_result(_result(), 'cam', _config(), types)
    for msg in (messages.dynamic_mask, messages.confidence):
        back = cdr_round_trip(msg)
        assert back.encoding == msg.encoding and back.step == msg.step
        assert bytes(as_uint8(back.data)) == bytes(as_uint8(msg.data))
    info = cdr_round_trip(messages.dynamic_mask_info)
    assert np.array_equal(info.k, K.reshape(-1)) and info.header == messages.depth.header


class _Keyframe:
    def __init__(self, stamp_ns: int, x: float) -> None:
        self.stamp_ns = stamp_ns
        self.T_world_cam = np.eye(4)
        self.T_world_cam[0, 3] = x


def test_keyframe_gate_sends_only_changes(types):
    gate, config = compose.KeyframePathGate(), _config()
    assert gate.message([], 1, config, types) is None  # nothing before the first keyframe
    first = gate.message([_Keyframe(1, 0.0)], 1, config, types)
    assert first is not None and len(first.poses) == 1
    assert gate.message([_Keyframe(1, 0.0)], 2, config, types) is None  # unchanged
    refined = gate.message([_Keyframe(1, 0.5)], 3, config, types)
    assert refined is not None and refined.poses[0].pose.position.x == 0.5
    cleared = gate.message([], 4, config, types)  # a reset clears the path
    assert cleared is not None and len(cleared.poses) == 0
