"""Preprocessing against the official loader's outputs (../shared/fixtures/preprocess)."""

from __future__ import annotations

import numpy as np
from PIL import Image
import pytest

from align3r_ros.config import PreprocessMode
from align3r_ros.errors import ConfigError, InputError
from align3r_ros.networks.preprocess import (
    network_rgb,
    normalise_network_rgb,
    plan_transform,
    preprocess_image,
    prior_to_pointmap,
)

# (frame, variant stored in outputs.npz, mode): A and C are identical in both modes (README).
CASES = [('A', 'crop', 'crop'), ('A', 'crop', 'resize'), ('B', 'crop', 'crop'),
         ('C', 'crop', 'crop'), ('C', 'crop', 'resize'), ('D', 'crop', 'crop'),
         ('D', 'resize', 'resize')]


@pytest.fixture(scope='module')
def fixture(shared):
    folder = shared / 'fixtures' / 'preprocess'
    return folder, np.load(folder / 'inputs_priors.npz'), np.load(folder / 'outputs.npz')


@pytest.mark.parametrize('frame,variant,mode', CASES)
def test_matches_reference_loader(fixture, frame, variant, mode):
    folder, priors, outputs = fixture
    rgb = np.asarray(Image.open(folder / f'input_{frame}.png').convert('RGB'))
    transform = plan_transform(rgb.shape[:2], 512, PreprocessMode(mode))
    key = f'{frame}_{variant}'
    assert list(transform.network_hw) == outputs[f'{key}_true_shape'][0].tolist()
    img = preprocess_image(rgb, transform)
    assert img.dtype == np.float32 and img.shape == outputs[f'{key}_img'].shape[1:]
    # Same PIL calls as the reference: exact.
    np.testing.assert_array_equal(img, outputs[f'{key}_img'][0])
    focal = priors.get(f'{frame}_prior_focallength_px', 200.0)
    pointmap = prior_to_pointmap(priors[f'{frame}_prior_depth'], transform, float(focal))
    assert pointmap.dtype == np.float32
    assert pointmap.shape == outputs[f'{key}_pred_depth'].shape[1:]
    # Fixture README: exact with OpenCV 4.11, <= 3e-7 otherwise; the stated atol is 1e-5.
    np.testing.assert_allclose(pointmap, outputs[f'{key}_pred_depth'][0], rtol=0, atol=1e-5)


def test_network_rgb_matches_normalised_image(fixture):
    folder, _, _ = fixture
    rgb = np.asarray(Image.open(folder / 'input_D.png').convert('RGB'))
    transform = plan_transform(rgb.shape[:2])
    colours = network_rgb(rgb, transform)
    assert colours.shape == (512, 160, 3) and colours.dtype == np.uint8
    expected = (colours.transpose(2, 0, 1).astype(np.float32) / np.float32(255) - 0.5) / 0.5
    np.testing.assert_array_equal(expected, preprocess_image(rgb, transform))
    np.testing.assert_array_equal(normalise_network_rgb(colours), expected)
    with pytest.raises(InputError, match='uint8'):
        normalise_network_rgb(colours.astype(np.float32))


@pytest.mark.parametrize('hw,long_side,mode,expected', [
    ((480, 640), 512, 'crop', (384, 512)),
    ((436, 1024), 512, 'crop', (208, 512)),    # Sintel
    ((480, 854), 512, 'resize', (288, 512)),   # DAVIS
    ((300, 100), 512, 'crop', (512, 160)),
    ((480, 480), 512, 'crop', (384, 512)),     # square: 4:3 landscape (reference crashes)
    ((480, 480), 512, 'resize', (384, 512)),
    ((480, 640), 256, 'crop', (192, 256)),
])
def test_plan_sizes(hw, long_side, mode, expected):
    transform = plan_transform(hw, long_side, PreprocessMode(mode))
    assert transform.network_hw == expected
    assert all(side % 16 == 0 for side in transform.network_hw)


def test_square_image_with_prior_works():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (480, 480, 3), dtype=np.uint8)
    prior = 1.0 + rng.random((480, 480), dtype=np.float32)
    for mode in PreprocessMode:
        transform = plan_transform(rgb.shape[:2], mode=mode)
        assert preprocess_image(rgb, transform).shape == (3, 384, 512)
        assert prior_to_pointmap(prior, transform).shape == (384, 512, 3)


def test_prior_at_other_resolution_matches_image_shape():
    # DAv2 processor output (518x924) for an 854x480 frame: the reference gives 287 rows with
    # crop=True; here the point map always has the image's network shape.
    ys, xs = np.mgrid[0:518, 0:924]
    prior = (1.0 + xs / 924.0 + ys / 518.0)[None].astype(np.float32)
    for mode in PreprocessMode:
        transform = plan_transform((480, 854), mode=mode)
        pointmap = prior_to_pointmap(prior, transform)
        assert pointmap.shape == (288, 512, 3)
        assert np.all(np.isfinite(pointmap))
        assert -0.05 < pointmap.min() and pointmap.max() < 1.05


@pytest.mark.parametrize('hw,mode', [((480, 640), 'crop'), ((300, 100), 'crop'),
                                     ((300, 100), 'resize'), ((436, 1024), 'crop')])
def test_K_round_trip_and_pixel_mapping(hw, mode):  # noqa: N802
    transform = plan_transform(hw, mode=PreprocessMode(mode))
    K = np.array([[585.0, 0.0, hw[1] / 2 - 0.5], [0.0, 580.0, hw[0] / 2 + 3.0], [0, 0, 1]])
    K_net = transform.K_to_network(K)
    np.testing.assert_allclose(transform.K_to_input(K_net), K, atol=1e-9)
    # A 3-D point projects to the same image location before and after the mapping.
    point = np.array([0.3, -0.2, 2.0])
    uv_in = (K @ point)[:2] / point[2]
    uv_net = (K_net @ point)[:2] / point[2]
    (sx, sy), (ox, oy) = transform.scale_xy, transform.offset_xy
    np.testing.assert_allclose(uv_net, [sx * uv_in[0] + ox, sy * uv_in[1] + oy], atol=1e-9)
    assert K_net[0, 0] == pytest.approx(585.0 * sx) and K_net[1, 1] == pytest.approx(580.0 * sy)


def test_K_to_network_crop_example():  # noqa: N802
    # 300x100 -> 512x171 resized, crop x0 = 5: fx scales by 512/300, cx shifts by the crop.
    transform = plan_transform((300, 100))
    K = np.array([[585.0, 0, 49.5], [0, 585.0, 149.5], [0, 0, 1]])
    K_net = transform.K_to_network(K)
    scale = 512 / 300
    assert K_net[0, 0] == pytest.approx(585 * 171 / 100)
    assert K_net[1, 1] == pytest.approx(585 * scale)
    assert K_net[0, 2] == pytest.approx((49.5 + 0.5) * 171 / 100 - 0.5 - 5)
    assert K_net[1, 2] == pytest.approx(255.5)


def test_map_round_trip_and_outside_crop():
    transform = plan_transform((300, 100))  # crop removes 5 resized columns on the left
    h, w = transform.network_hw
    xs = np.broadcast_to(np.arange(w, dtype=np.float32), (h, w))
    back = transform.map_to_input(xs)
    assert back.shape == (300, 100)
    assert np.isnan(back[:, 0]).all() and np.isnan(back[:, -1]).all()  # cropped away
    inner = back[:, 5:-5]
    assert np.isfinite(inner).all()
    # Bilinear of a linear ramp is exact: u_n = sx * u + ox.
    (sx, _), (ox, _) = transform.scale_xy, transform.offset_xy
    np.testing.assert_allclose(inner[0], sx * np.arange(5, 95) + ox, atol=1e-4)
    mask = transform.map_to_input(np.ones((h, w), dtype=bool))
    assert mask.dtype == np.bool_ and not mask[:, 0].any() and mask[:, 5:-5].all()
    # Input -> network -> input with nearest sampling returns the same values inside the crop.
    depth = np.linspace(1.0, 2.0, 300 * 100, dtype=np.float32).reshape(300, 100)
    depth[10:20, 40:60] = np.nan
    net = transform.map_to_network(depth)
    assert net.shape == (h, w) and np.isnan(net).any()
    rgb_like = transform.map_to_network(np.dstack([depth] * 3), nearest=False)
    assert rgb_like.shape == (h, w, 3)
    again = transform.map_to_input(net, nearest=True)
    finite = np.isfinite(again) & np.isfinite(depth)
    assert finite.sum() > 0.8 * depth.size
    np.testing.assert_allclose(again[finite], depth[finite], atol=2e-3)


def test_bilinear_to_network_is_nan_aware():
    transform = plan_transform((480, 640))
    depth = np.full((480, 640), 3.0, dtype=np.float32)
    depth[::2] = np.nan
    net = transform.map_to_network(depth, nearest=False)
    assert np.isfinite(net).all() and np.allclose(net, 3.0)


@pytest.mark.parametrize('rgb', [
    np.zeros((0, 10, 3), np.uint8), np.zeros((48, 64), np.uint8), np.zeros((48, 64, 1), np.uint8),
    np.zeros((48, 64, 4), np.uint8), np.zeros((48, 64, 3), np.float32),
    np.zeros((32, 64, 3), np.uint8)])
def test_bad_images_raise(rgb):
    transform = plan_transform((48, 64))
    with pytest.raises(InputError):
        preprocess_image(rgb, transform)


@pytest.mark.parametrize('long_side', [0, 8, 500, 520.0])
def test_bad_long_side_raises(long_side):
    with pytest.raises(ConfigError, match=str(long_side)):
        plan_transform((480, 640), long_side)


@pytest.mark.parametrize('hw', [(0, 640), (480, 0), (10, 1000)])
def test_degenerate_sizes_raise(hw):
    with pytest.raises(InputError, match='H, W'):
        plan_transform(hw)


def _bad_priors():
    ramp = np.linspace(1.0, 2.0, 48 * 64, dtype=np.float32).reshape(48, 64)
    nan = ramp.copy()
    nan[3, 4] = np.nan
    inf = ramp.copy()
    inf[0, 0] = np.inf
    return [(nan, 'non-finite'), (inf, 'non-finite'), (np.full((48, 64), 2.0), 'constant Z'),
            (np.zeros((48, 64)), 'constant'), (ramp[:, :1], 'aspect'), (ramp[None, None], 'shape'),
            (np.zeros((0, 5)), 'shape'), (ramp.T, 'aspect')]


@pytest.mark.parametrize('prior,message', _bad_priors())
def test_bad_priors_raise(prior, message):
    transform = plan_transform((48, 64))
    with pytest.raises(InputError, match=message):
        prior_to_pointmap(prior, transform)


def test_bad_focal_raises():
    transform = plan_transform((48, 64))
    prior = np.linspace(1.0, 2.0, 48 * 64, dtype=np.float32).reshape(48, 64)
    with pytest.raises(InputError, match='focal'):
        prior_to_pointmap(prior, transform, focal_px=0.0)
