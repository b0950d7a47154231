"""Frame sanitising for the prior backends: colour layouts, size limits, bilinear parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from align3r_ros.backends.prior_frame import (
    MAX_NETWORK_SIDE, check_finite_prior, focal_from_K, prepare_frame, resize_bilinear,
    to_rgb_uint8)
from align3r_ros.errors import BackendError, InputError


def test_colour_layouts_become_rgb_uint8():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    gray = rgb[..., 0]
    assert np.array_equal(to_rgb_uint8(rgb), rgb)
    assert np.array_equal(to_rgb_uint8(gray), np.repeat(gray[..., None], 3, axis=2))
    assert np.array_equal(to_rgb_uint8(gray[..., None]), to_rgb_uint8(gray))
    rgba = np.concatenate([rgb, np.full((20, 30, 1), 7, np.uint8)], axis=2)
    assert np.array_equal(to_rgb_uint8(rgba), rgb)
    assert np.array_equal(to_rgb_uint8(rgb.astype(np.uint16) * 257), rgb)


@pytest.mark.parametrize('bad, match', [
    (np.zeros((20, 30, 2), np.uint8), 'shape'),
    (np.zeros((20, 30, 3), np.float32), 'dtype'),
    (np.zeros((4, 30, 3), np.uint8), 'too small'),
    ([[1, 2]], 'numpy array'),
])
def test_bad_frames_are_rejected(bad, match):
    with pytest.raises(InputError, match=match):
        to_rgb_uint8(bad)


def test_frames_above_4k_are_downscaled():
    big = np.zeros((2400, 4320, 3), np.uint8)
    frame = prepare_frame(big)
    assert max(frame.rgb.shape[:2]) == MAX_NETWORK_SIDE
    assert frame.frame_hw == (2400, 4320)
    assert frame.scale == pytest.approx(frame.rgb.shape[0] / 2400)
    small = prepare_frame(np.zeros((48, 64), np.uint8))
    assert small.scale == 1.0 and small.rgb.shape == (48, 64, 3)


@pytest.mark.parametrize('align_corners', [True, False])
@pytest.mark.parametrize('src, dst', [((70, 98), (480, 640)), ((96, 96), (30, 40)),
                                      ((5, 7), (1, 1)), ((10, 10), (10, 25))])
def test_resize_bilinear_matches_torch(src, dst, align_corners):
    values = np.random.default_rng(1).random(src).astype(np.float32)
    want = F.interpolate(torch.from_numpy(values)[None, None], dst, mode='bilinear',
                         align_corners=align_corners)[0, 0].numpy()
    # align_corners=True is exact to rounding; False differs by PyTorch's float32 source
    # coordinates (observed 1.4e-5 on [0, 1] data, see the Depth Pro fixture README).
    tol = 1e-6 if align_corners else 3e-5
    np.testing.assert_allclose(resize_bilinear(values, dst, align_corners), want, atol=tol)


def test_focal_from_K():
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    assert focal_from_K(K) == 500.0
    assert focal_from_K(None) is None
    assert focal_from_K(np.zeros((3, 3))) is None  # uncalibrated CameraInfo
    with pytest.raises(InputError, match='non-finite'):
        focal_from_K(np.full((3, 3), np.nan))
    with pytest.raises(InputError, match=r'\(3, 3\)'):
        focal_from_K(np.eye(4))


def test_non_finite_network_output_is_an_error():
    with pytest.raises(BackendError, match='1 non-finite'):
        check_finite_prior(np.array([[1.0, np.nan]], np.float32), 'net')
