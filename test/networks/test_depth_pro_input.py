"""Depth Pro on awkward input: grayscale / RGBA / tiny / huge frames, NaN, bad focal lengths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from align3r_ros.errors import BackendError, InputError
from align3r_ros.networks.depth_pro.build import build_depth_pro
from align3r_ros.networks.depth_pro.checkpoint import load_depth_pro
from align3r_ros.networks.depth_pro.infer import canonical_to_prediction, predict_depth
from align3r_ros.networks.depth_pro.preprocess import (MAX_INPUT_PIXELS, preprocess_rgb,
                                                       rgb_to_three_channels)


@pytest.fixture(scope='module')
def untrained(depth_pro_config):
    """Tiny-width model with default init: enough for checks that stop before the network."""
    return build_depth_pro(depth_pro_config)


def test_grayscale_and_rgba_are_converted():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (6, 9), dtype=np.uint8)
    for frame in (gray, gray[:, :, None]):
        rgb = rgb_to_three_channels(frame)
        assert rgb.shape == (6, 9, 3)
        assert all(np.array_equal(rgb[..., c], gray) for c in range(3))
    rgba = rng.integers(0, 256, (6, 9, 4), dtype=np.uint8)
    assert np.array_equal(rgb_to_three_channels(rgba), rgba[..., :3])
    image = preprocess_rgb(rgba)
    assert image.shape == (3, 6, 9) and image.dtype == torch.float32
    expected = (rgba[..., :3].transpose(2, 0, 1).astype(np.float32) / 255 - 0.5) / 0.5
    np.testing.assert_allclose(image.numpy(), expected, rtol=0, atol=1e-7)


@pytest.mark.parametrize('frame, message', [
    (np.zeros((4, 4, 3), np.float32), 'dtype float32'),
    (np.zeros((4, 4, 2), np.uint8), r'shape \(4, 4, 2\)'),
    (np.zeros((0, 4, 3), np.uint8), 'empty'),
    ([[0, 1]], 'list'),
])
def test_unusable_frames_are_rejected(frame, message):
    with pytest.raises(InputError, match=message):
        preprocess_rgb(frame)


def test_frames_above_the_pixel_limit_are_rejected_without_copying():
    side = int(math.isqrt(MAX_INPUT_PIXELS)) + 1
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (side, side, 3))  # no memory
    with pytest.raises(InputError, match=f'{side}x{side}'):
        preprocess_rgb(huge)


def test_4k_frame_is_accepted():
    frame = np.full((2160, 3840, 3), 255, np.uint8)
    image = preprocess_rgb(frame)
    assert image.shape == (3, 2160, 3840) and float(image.min()) == 1.0


def test_non_finite_image_and_bad_focal_raise_before_the_network(untrained):
    image = torch.zeros(3, 8, 8)
    image[0, 1, 1] = float('nan')
    with pytest.raises(InputError, match='NaN'):
        untrained.infer(image)
    clean = torch.zeros(3, 8, 8)
    for f_px in (0.0, -5.0, float('nan'), float('inf'), torch.tensor([500.0, 600.0])):
        with pytest.raises(InputError, match='f_px'):
            untrained.infer(clean, f_px=f_px)
    with pytest.raises(InputError, match=r'\(2, 8, 8\)'):
        untrained.infer(torch.zeros(2, 8, 8))
    with pytest.raises(InputError, match='1536'):
        untrained(torch.zeros(1, 3, 384, 384))
    with pytest.raises(InputError, match='f_px'):
        predict_depth(untrained, np.zeros((8, 8, 3), np.uint8), f_px=-1.0)


def test_non_finite_network_output_is_reported():
    canonical = torch.ones(1, 1, 16, 16)
    canonical[0, 0, 3, 3] = float('nan')
    with pytest.raises(BackendError, match='non-finite depth'):
        canonical_to_prediction(canonical, torch.full((1, 1, 1, 1), 60.0), (16, 16))


def test_batched_postprocessing_uses_one_focal_per_image():
    canonical = torch.full((2, 1, 16, 16), 0.5)
    prediction = canonical_to_prediction(canonical, torch.full((2, 1, 1, 1), 60.0), (8, 12),
                                         torch.tensor([12.0, 24.0]))
    assert prediction.depth.shape == (2, 8, 12)
    assert prediction.focallength_px.tolist() == [12.0, 24.0]
    # depth = 1 / (canonical * W / f_px) = f_px / (0.5 * 12)
    np.testing.assert_allclose(prediction.depth[:, 0, 0].numpy(), [2.0, 4.0], rtol=1e-6)


def test_tiny_grayscale_frame_end_to_end(depth_pro_dir, depth_pro_config):
    model = load_depth_pro(depth_pro_dir / 'weights.safetensors', depth_pro_config)
    frame = np.arange(35, dtype=np.uint8).reshape(5, 7) * 7
    depth, focal = predict_depth(model, frame, f_px=4.5)
    assert depth.shape == (5, 7) and depth.dtype == np.float32
    assert np.all(np.isfinite(depth)) and np.all(depth >= 1e-4) and np.all(depth <= 1e4)
    assert focal == 4.5


@pytest.mark.slow
def test_4k_frame_end_to_end(depth_pro_dir, depth_pro_config):
    model = load_depth_pro(depth_pro_dir / 'weights.safetensors', depth_pro_config)
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (2160, 3840, 3), dtype=np.uint8)
    depth, focal = predict_depth(model, frame)
    assert depth.shape == (2160, 3840) and np.all(np.isfinite(depth))
    assert math.isfinite(focal) and focal > 0
