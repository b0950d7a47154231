"""Depth Pro parity with the official code on the tiny fixture (fp32, CPU).

Tolerances are the fixture README's (config.json -> tolerances): finals elementwise relative,
intermediates max|impl - ref| / max|ref|. One forward of the tiny model takes ~4 s on 2 cores.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from align3r_ros.networks.depth_pro.checkpoint import load_depth_pro
from align3r_ros.networks.depth_pro.encoder import build_pyramid, split_windows
from align3r_ros.networks.depth_pro.infer import canonical_to_prediction
from align3r_ros.networks.depth_pro.preprocess import preprocess_rgb

INTERMEDIATE_TOL = 1e-4
# The seam crops of intermediates.npz (README: token 21 of the 96 grid, per map resolution).
SUB_CROP = {
    'enc0': (8, slice(152, 184)), 'enc1': (4, slice(72, 104)), 'enc2': (2, slice(26, 58)),
    'decoder_features': (8, slice(152, 184)),
}


def max_rel_elementwise(actual, reference) -> float:
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    return float(np.max(np.abs(actual - reference) / np.abs(reference)))


def max_rel_global(actual, reference) -> float:
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    assert actual.shape == reference.shape
    return float(np.max(np.abs(actual - reference)) / np.max(np.abs(reference)))


@pytest.fixture(scope='module')
def tolerances(depth_pro_dir):
    return json.loads((depth_pro_dir / 'config.json').read_text())['tolerances']


@pytest.fixture(scope='module')
def tiny(depth_pro_dir):
    config = json.loads((depth_pro_dir / 'config.json').read_text())
    return load_depth_pro(depth_pro_dir / 'weights.safetensors', config)


@pytest.fixture(scope='module')
def inputs(depth_pro_dir):
    return dict(np.load(depth_pro_dir / 'inputs.npz'))


@pytest.fixture(scope='module')
def outputs(depth_pro_dir):
    return dict(np.load(depth_pro_dir / 'outputs.npz'))


@pytest.fixture(scope='module')
def intermediates(depth_pro_dir):
    return dict(np.load(depth_pro_dir / 'intermediates.npz'))


@pytest.fixture(scope='module')
def x1536(inputs):
    image = preprocess_rgb(inputs['image_uint8'])
    return F.interpolate(image[None], size=(1536, 1536), mode='bilinear', align_corners=False)


def _capture(model, store):
    """Forward hooks on the official module boundaries; big maps are cut down at once."""
    enc = model.encoder
    sel = [0, 25, 34]

    def keep(name, transform=lambda t: t, use_input=False):
        def hook(module, args, output):
            value = args[0] if use_input else output
            store[name] = transform(value).detach().clone()
        return hook

    def sub_and_crop(name, pick=lambda output: output):
        step, crop = SUB_CROP[name]

        def hook(module, args, output):
            value = pick(output)
            store[f'{name}_sub{step}'] = value[..., ::step, ::step].clone()
            store[f'{name}_crop'] = value[..., crop, crop].clone()
        return hook

    hooks = [
        (enc.patch_encoder.norm, keep('patch_encoder_out_sel', lambda t: t[sel])),
        (enc.patch_encoder.blocks[5], keep('hook0_sel', lambda t: t[sel])),
        (enc.patch_encoder.blocks[11], keep('hook1_sel', lambda t: t[sel])),
        (enc.image_encoder.norm, keep('image_encoder_out')),
        (enc.upsample_latent0, keep('merged_latent0', use_input=True)),
        (enc.upsample_latent1, keep('merged_latent1', use_input=True)),
        (enc.upsample0, keep('merged_x0', use_input=True)),
        (enc.upsample1, keep('merged_x1', use_input=True)),
        (enc.upsample2, keep('x2_features', use_input=True)),
        (enc.upsample_lowres, keep('global_features', use_input=True)),
        (enc.upsample_latent0, sub_and_crop('enc0')),
        (enc.upsample_latent1, sub_and_crop('enc1')),
        (enc.upsample0, sub_and_crop('enc2')),
        (enc.upsample1, keep('enc3')),
        (enc.fuse_lowres, keep('enc4')),
        # The decoder returns (features (B, D, 768, 768), lowres (B, D, 48, 48)).
        (model.decoder, sub_and_crop('decoder_features', pick=lambda output: output[0])),
        (model.decoder.convs[4], keep('decoder_lowres_features')),
        (model.fov.encoder, keep('fov_encoder_out')),
        (model.fov.downsample, keep('fov_downsample_out')),
    ]
    return [module.register_forward_hook(hook) for module, hook in hooks]


@pytest.fixture(scope='module')
def forward_run(tiny, x1536):
    """One forward of the tiny model with intermediates: (canonical, fov_deg, captured)."""
    captured = {}
    handles = _capture(tiny, captured)
    try:
        with torch.inference_mode():
            canonical, fov_deg = tiny(x1536)
    finally:
        for handle in handles:
            handle.remove()
    return canonical, fov_deg, captured


def test_preprocessing_and_network_input(inputs, x1536, tolerances):
    image = preprocess_rgb(inputs['image_uint8'])
    assert image.dtype == torch.float32 and image.shape == (3, 480, 640)
    assert np.max(np.abs(image.numpy() - inputs['image_tensor'])) <= tolerances[
        'image_tensor']['atol']
    tol = tolerances['network_input_sub8/network_input_crop/pyramid_x2/patches_sub8']['tol']
    assert max_rel_global(x1536[..., ::8, ::8], inputs['network_input_sub8']) <= tol
    assert max_rel_global(x1536[..., 760:824, 1000:1064], inputs['network_input_crop']) <= tol


def test_pyramid_windows(x1536, inputs, intermediates, tolerances):
    tol = tolerances['network_input_sub8/network_input_crop/pyramid_x2/patches_sub8']['tol']
    x0, x1, x2 = build_pyramid(x1536)
    assert max_rel_global(x2, inputs['pyramid_x2']) <= tol
    windows = torch.cat([split_windows(x0, 0.25), split_windows(x1, 0.5), x2], dim=0)
    assert windows.shape == (35, 3, 384, 384)
    assert max_rel_global(windows[..., ::8, ::8], intermediates['patches_sub8']) <= tol


def test_forward_outputs(forward_run, outputs, tolerances):
    canonical, fov_deg, _ = forward_run
    assert canonical.shape == (1, 1, 1536, 1536) and fov_deg.shape == (1, 1, 1, 1)
    assert max_rel_elementwise(canonical, outputs['canonical_inverse_depth']) <= tolerances[
        'canonical_inverse_depth']['rtol']
    assert max_rel_elementwise(fov_deg, outputs['fov_deg']) <= tolerances['fov_deg']['rtol']


def test_intermediates(forward_run, intermediates):
    _, _, captured = forward_run
    assert set(captured) == set(intermediates) - {'patches_sub8'}
    errors = {name: max_rel_global(captured[name], intermediates[name]) for name in captured}
    worst = max(errors, key=errors.get)
    assert errors[worst] <= INTERMEDIATE_TOL, f'{worst}: {errors[worst]:.3g}'


@pytest.mark.parametrize('given', [False, True], ids=['estimated_focal', 'f_px_585'])
def test_postprocessing_of_forward(forward_run, inputs, outputs, tolerances, given):
    canonical, fov_deg, _ = forward_run
    f_px = torch.tensor(float(inputs['f_px_given'])) if given else None
    prediction = canonical_to_prediction(canonical, fov_deg, (480, 640), f_px)
    suffix = '_given' if given else ''
    depth_key = 'depth_fpx_given' if given else 'depth'
    assert prediction.depth.shape == (1, 480, 640)
    assert max_rel_elementwise(prediction.depth[0], outputs[depth_key]) <= tolerances[
        depth_key]['rtol']
    assert max_rel_elementwise(prediction.focallength_px[0], outputs[
        f'focallength_px{suffix}']) <= tolerances[f'focallength_px{suffix}']['rtol']


def test_postprocessing_clamps_both_ends(outputs, tolerances):
    prediction = canonical_to_prediction(
        torch.from_numpy(outputs['post_canonical_inverse_depth']),
        torch.from_numpy(outputs['post_fov_deg']), tuple(outputs['post_image_hw']))
    depth = prediction.depth[0].numpy()
    assert depth.shape == (30, 40)
    assert depth.max() == pytest.approx(1e4) and depth.min() == pytest.approx(1e-4)
    assert max_rel_elementwise(depth, outputs['post_depth']) <= tolerances['post_depth']['rtol']
    assert max_rel_elementwise(prediction.focallength_px[0], outputs[
        'post_focallength_px']) <= tolerances['post_focallength_px']['rtol']


def test_infer_end_to_end_estimated_focal(tiny, inputs, outputs, tolerances):
    prediction = tiny.infer(torch.from_numpy(inputs['image_tensor']))
    assert prediction.depth.shape == (480, 640) and prediction.focallength_px.shape == ()
    assert max_rel_elementwise(prediction.depth, outputs['depth']) <= tolerances['depth']['rtol']
    assert max_rel_elementwise(prediction.focallength_px, outputs['focallength_px']) <= \
        tolerances['focallength_px']['rtol']


@pytest.mark.slow
def test_predict_depth_with_known_focal(tiny, inputs, outputs, tolerances):
    from align3r_ros.networks.depth_pro.infer import predict_depth

    depth, focal = predict_depth(tiny, inputs['image_uint8'], f_px=585.0)
    assert depth.dtype == np.float32 and depth.shape == (480, 640)
    assert focal == 585.0
    assert max_rel_elementwise(depth, outputs['depth_fpx_given']) <= tolerances[
        'depth_fpx_given']['rtol']


@pytest.mark.gpu
def test_cuda_forward_matches_fixture(depth_pro_dir, x1536, outputs):
    config = json.loads((depth_pro_dir / 'config.json').read_text())
    model = load_depth_pro(depth_pro_dir / 'weights.safetensors', config, device='cuda')
    # cuDNN may pick TF32 convolutions (10-bit mantissa); disable them to compare at fp32.
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False), torch.inference_mode():
        canonical, fov_deg = model(x1536.cuda())
    # Different conv / attention kernels than on CPU: 1e-3 instead of the CPU's 1e-4.
    assert max_rel_elementwise(canonical.cpu(), outputs['canonical_inverse_depth']) <= 1e-3
    assert max_rel_elementwise(fov_deg.cpu(), outputs['fov_deg']) <= 1e-4
