"""Depth Anything V2 parity with the official code (tiny fixture, fp32, rtol = atol = 1e-4)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from align3r_ros.errors import ConfigError
from align3r_ros.networks.depth_anything.config import (
    OFFICIAL_CONFIGS, resolve_config)
from align3r_ros.networks.depth_anything.model import infer_disparity
from align3r_ros.networks.depth_anything.preprocess import (
    network_input_size, rgb_to_network_input)

TOL = dict(rtol=1e-4, atol=1e-4)  # the fixture README's recommended tolerance


@pytest.fixture(scope='module')
def io(dav2_dir):
    return dict(np.load(dav2_dir / 'io.npz'))


@pytest.fixture(scope='module')
def rgb(dav2_dir):
    # The reference read the PNG with cv2.imread (BGR); our API takes RGB.
    return np.ascontiguousarray(cv2.imread(str(dav2_dir / 'input_frame_rgb.png'))[..., ::-1])


def test_fixture_config_maps_to_tiny_dims(dav2_dir):
    cfg = resolve_config(json.loads((dav2_dir / 'config.json').read_text()))
    assert (cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.features) == (32, 12, 2, 16)
    assert cfg.layer_idx == (2, 5, 8, 11)
    assert cfg.out_channels == (8, 16, 24, 32)
    assert cfg.ln_eps == 1e-6


def test_preprocessing_is_exact(rgb, io):
    x = rgb_to_network_input(rgb, 70)
    assert x.shape == (1, 3, 70, 98)
    np.testing.assert_allclose(x, io['input'], rtol=0, atol=1e-6)


@pytest.mark.parametrize('hw, size, expected', [
    ((480, 640), 70, (70, 98)),
    ((480, 640), 518, (518, 686)),
    ((640, 480), 518, (686, 518)),
    ((518, 518), 518, (518, 518)),
    ((20, 30), 518, (518, 784)),       # tiny frames are upsampled to the lower bound
    ((2160, 3840), 518, (518, 924)),
])
def test_network_input_size_rule(hw, size, expected):
    out = network_input_size(*hw, input_size=size)
    assert out == expected
    assert out[0] % 14 == 0 and out[1] % 14 == 0 and min(out) >= size


def test_forward_parity(tiny_dav2, io):
    with torch.no_grad():
        depth = tiny_dav2(torch.from_numpy(io['input'])).numpy()
    assert depth.shape == (1, 70, 98)
    np.testing.assert_allclose(depth, io['depth'], **TOL)
    assert (depth == 0).mean() == pytest.approx((io['depth'] == 0).mean(), abs=0.01)


def test_intermediate_layers_parity(tiny_dav2, io):
    with torch.no_grad():
        layers = tiny_dav2.intermediate_layers(torch.from_numpy(io['input']))
    for index, (patch_tokens, cls_token) in enumerate(layers):
        np.testing.assert_allclose(patch_tokens.numpy(), io[f'layer{index}_patch_tokens'], **TOL)
        np.testing.assert_allclose(cls_token.numpy(), io[f'layer{index}_cls_token'], **TOL)


def test_infer_image_parity(tiny_dav2, io, rgb):
    disparity = infer_disparity(tiny_dav2, rgb, input_size=70)
    assert disparity.shape == (480, 640) and disparity.dtype == np.float32
    yx = io['infer_image_sample_yx']
    np.testing.assert_allclose(disparity[yx[:, 0], yx[:, 1]], io['infer_image_sample_values'],
                               **TOL)


def test_square_native_grid_skips_interpolation(tiny_dav2):
    # 518x518 (37x37 patches) uses the stored embedding verbatim, any other size resamples.
    pos = tiny_dav2.pretrained.position_embedding(37, 37)
    assert torch.equal(pos, tiny_dav2.pretrained.pos_embed)
    assert tiny_dav2.pretrained.position_embedding(5, 7).shape == (1, 36, 32)


def test_rejects_non_multiple_of_patch(tiny_dav2):
    with pytest.raises(ValueError, match='multiple of 14'):
        tiny_dav2(torch.zeros(1, 3, 70, 100))


def test_official_names_and_errors():
    assert resolve_config('depth_anything_v2_vitb') == OFFICIAL_CONFIGS['vitb']
    assert resolve_config({'encoder': 'vits'}) == OFFICIAL_CONFIGS['vits']
    with pytest.raises(ConfigError, match='vitx'):
        resolve_config('vitx')
    with pytest.raises(ConfigError, match='bogus'):
        resolve_config({'bogus': 1})
    with pytest.raises(ConfigError, match='num_heads'):
        resolve_config({'encoder': 'vits', 'num_heads': 5})


@pytest.mark.parametrize('grid_hw', [(5, 7), (37, 49), (36, 37), (74, 100), (1, 1), (37, 37)])
def test_position_embedding_resampling_matches_interpolate(grid_hw):
    # The export-friendly matrix form must equal the reference's F.interpolate call.
    import torch.nn.functional as F

    from align3r_ros.networks.depth_anything.pos_embed import resample_pos_grid

    grid = torch.randn(37, 37, 8, generator=torch.Generator().manual_seed(0)) * 0.5
    gh, gw = grid_hw
    if grid_hw == (37, 37):
        want = grid  # square native input: used verbatim
    else:
        want = F.interpolate(grid.permute(2, 0, 1)[None], scale_factor=((gh + 0.1) / 37,
                             (gw + 0.1) / 37), mode='bicubic', align_corners=False)
        want = want[0].permute(1, 2, 0)
    got = resample_pos_grid(grid, gh, gw, 0.1)
    assert got.shape == (gh, gw, 8)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)  # observed <= 4.4e-6
