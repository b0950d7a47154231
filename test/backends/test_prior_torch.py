"""Native torch prior backends: Depth Anything V2 (fixture parity), Depth Pro (focal use)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from align3r_ros.backends.prior_torch import DepthAnythingPriorBackend, DepthProPriorBackend
from align3r_ros.config import PriorKind
from align3r_ros.errors import InputError, WeightsError
from align3r_ros.networks.depth_anything.build import build_depth_anything_v2


@pytest.fixture(scope='module')
def dav2_backend(tiny_dav2):
    return DepthAnythingPriorBackend(tiny_dav2, input_size=70)


@pytest.fixture(scope='module')
def rgb(dav2_dir):
    return np.ascontiguousarray(cv2.imread(str(dav2_dir / 'input_frame_rgb.png'))[..., ::-1])


def test_dav2_backend_matches_reference_infer_image(dav2_backend, dav2_dir, rgb):
    io = np.load(dav2_dir / 'io.npz')
    prior = dav2_backend.estimate(rgb)
    assert prior.kind == PriorKind.DISPARITY and prior.focal_px is None
    assert prior.values.shape == (480, 640) and prior.valid.all()
    yx = io['infer_image_sample_yx']
    np.testing.assert_allclose(prior.values[yx[:, 0], yx[:, 1]],
                               io['infer_image_sample_values'], rtol=1e-4, atol=1e-4)


def test_dav2_backend_converts_gray_and_rgba(dav2_backend, rgb):
    gray = rgb[..., 1]
    from_gray = dav2_backend.estimate(gray).values
    np.testing.assert_array_equal(from_gray,
                                  dav2_backend.estimate(np.repeat(gray[..., None], 3, 2)).values)
    rgba = np.concatenate([rgb, np.zeros_like(rgb[..., :1])], axis=2)
    np.testing.assert_array_equal(dav2_backend.estimate(rgba).values,
                                  dav2_backend.estimate(rgb).values)


def test_dav2_backend_sizes(dav2_backend, rgb):
    with pytest.raises(InputError, match='too small'):
        dav2_backend.estimate(np.zeros((5, 5, 3), np.uint8))
    tiny = dav2_backend.estimate(rgb[::40, ::40])   # 12 x 16 frame: upsampled to >= 70
    assert tiny.values.shape == (12, 16) and np.isfinite(tiny.values).all()
    huge = cv2.resize(rgb, (4480, 3360), interpolation=cv2.INTER_NEAREST)  # > 4K
    prior = dav2_backend.estimate(huge)
    assert prior.values.shape == (3360, 4480) and np.isfinite(prior.values).all()


def test_dav2_from_weights_checks_the_variant(tmp_path):
    # Full-size random ViT-S weights: detection by shapes, and a clear error for prior.model.
    torch.manual_seed(0)
    torch.save(build_depth_anything_v2('vits').state_dict(), tmp_path / 'dav2_s.pth')
    backend = DepthAnythingPriorBackend.from_weights(tmp_path / 'dav2_s.pth')
    assert backend.model.cfg.name == 'depth_anything_v2_vits'
    with pytest.raises(WeightsError, match='holds depth_anything_v2_vits.*vitl'):
        DepthAnythingPriorBackend.from_weights(tmp_path / 'dav2_s.pth', model_name='vitl')


class _StubDepthPro(torch.nn.Module):
    """Stands in for DepthPro.infer: depth 2 m everywhere, focal = f_px or 0.8 W."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.calls = []

    def infer(self, image, f_px=None):
        from align3r_ros.networks.depth_pro import DepthProPrediction

        height, width = image.shape[-2:]
        self.calls.append((tuple(image.shape), None if f_px is None else float(f_px)))
        focal = torch.tensor(0.8 * width) if f_px is None else torch.as_tensor(f_px)
        return DepthProPrediction(depth=torch.full((height, width), 2.0),
                                  focallength_px=focal)


def test_depth_pro_backend_uses_fx_of_K():
    stub = _StubDepthPro()
    backend = DepthProPriorBackend(stub)
    rgb = np.zeros((48, 64, 3), np.uint8)
    K = np.array([[70.0, 0, 32], [0, 70, 24], [0, 0, 1]])
    prior = backend.estimate(rgb, K)
    assert prior.kind == PriorKind.METRIC_DEPTH and prior.focal_px == pytest.approx(70.0)
    assert stub.calls[-1] == ((3, 48, 64), 70.0)
    prior = backend.estimate(rgb[..., 0])  # grayscale, focal estimated
    assert prior.focal_px == pytest.approx(0.8 * 64)
    assert stub.calls[-1][1] is None
    assert prior.values.shape == (48, 64) and np.all(prior.values == 2.0)


def test_depth_pro_backend_rescales_focal_for_frames_above_4k():
    stub = _StubDepthPro()
    prior = DepthProPriorBackend(stub).estimate(
        np.zeros((2400, 7680), np.uint8), np.diag([3000.0, 3000.0, 1.0]))
    net_shape, f_px = stub.calls[-1]
    assert net_shape == (3, 1200, 3840)
    assert f_px == pytest.approx(1500.0)
    assert prior.focal_px == pytest.approx(3000.0)
    assert prior.values.shape == (2400, 7680)


@pytest.mark.slow
def test_depth_pro_backend_fixture_parity(shared):
    # ~5-30 s on 2 CPU threads: the tiny model keeps the full 1536 x 1536 pyramid.
    from align3r_ros.networks.depth_pro import load_depth_pro

    folder = shared / 'fixtures' / 'depth_pro_tiny'
    model = load_depth_pro(folder / 'weights.safetensors',
                           config=json.loads((folder / 'config.json').read_text()))
    inputs, outputs = np.load(folder / 'inputs.npz'), np.load(folder / 'outputs.npz')
    K = np.array([[585.0, 0, 320], [0, 585, 240], [0, 0, 1]])
    prior = DepthProPriorBackend(model).estimate(inputs['image_uint8'], K)
    np.testing.assert_allclose(prior.values, outputs['depth_fpx_given'], rtol=1e-4)
    assert prior.focal_px == pytest.approx(585.0)
