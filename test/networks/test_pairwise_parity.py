"""Parity of PairwisePointMapNet with the official Align3R / DUSt3R code (tiny fixtures).

Tolerance: np.allclose(mine, ref, rtol=1e-4, atol=1e-4), fp32 CPU, as recommended by the fixture
READMEs (a float64 re-run of the reference itself differs by up to 1e-4 absolute).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip('torch')
from safetensors.torch import load_file  # noqa: E402

from align3r_ros.errors import InputError  # noqa: E402
from align3r_ros.networks.pairwise.build import build_pairwise_net  # noqa: E402
from align3r_ros.networks.pairwise.encoding import FrameEncoding  # noqa: E402

RTOL = ATOL = 1e-4
CASES = ('a', 'b', 'c')
OUTPUT_KEYS = (('pts3d', 'pts3d'), ('conf', 'conf'),
               ('pts3d_in_other_view', 'pts3d_in_other_view'),
               ('conf_in_other_view', 'conf2'))


def fixture_net(folder: Path):
    """Build the fixture's network from its config.json and load its safetensors weights."""
    config = json.loads((folder / 'config.json').read_text())
    net = build_pairwise_net(config)
    state = load_file(str(folder / 'weights.safetensors'))
    for alias, target in config['weights']['alias_of'].items():
        state[alias] = state[target]
    net.load_state_dict(state, strict=True)
    return net


@pytest.fixture(scope='module', params=['align3r_tiny', 'dust3r_tiny'])
def fixture(request, shared):
    folder = shared / 'fixtures' / request.param
    return (request.param, fixture_net(folder), np.load(folder / 'inputs.npz'),
            np.load(folder / 'outputs.npz'), np.load(folder / 'intermediates_pair_a.npz'))


def case_inputs(inputs, case):
    def get(key):
        key = f'{case}_{key}'
        return torch.from_numpy(inputs[key]) if key in inputs.files else None
    return get('img1'), get('img2'), get('pred_depth1'), get('pred_depth2')


def assert_close(mine, ref, what):
    mine = mine.detach().cpu().numpy() if isinstance(mine, torch.Tensor) else mine
    assert mine.shape == ref.shape, what
    err = np.abs(mine - ref).max()
    assert np.allclose(mine, ref, rtol=RTOL, atol=ATOL), f'{what}: max abs err {err}'


@pytest.mark.parametrize('case', CASES)
def test_forward_matches_reference(fixture, case):
    name, net, inputs, outputs, _ = fixture
    with torch.inference_mode():
        out = net(*case_inputs(inputs, case))
    for field, key in OUTPUT_KEYS:
        assert_close(getattr(out, field), outputs[f'{case}_{key}'], f'{name} {case} {field}')


@pytest.mark.parametrize('case', CASES)
def test_cached_encode_then_decode_matches_forward(fixture, case):
    name, net, inputs, outputs, _ = fixture
    img1, img2, pm1, pm2 = case_inputs(inputs, case)
    with torch.inference_mode():
        # Encode each frame separately (as the per-frame cache does), then batch the pairs.
        enc1 = FrameEncoding.concat([net.encode(img1[b:b + 1], None if pm1 is None
                                                else pm1[b:b + 1]) for b in range(len(img1))])
        enc2 = net.encode(img2, pm2)
        out = net.decode(enc1, enc2)
    for field, key in OUTPUT_KEYS:
        assert_close(getattr(out, field), outputs[f'{case}_{key}'], f'{name} {case} {field}')


def test_intermediates_pair_a(fixture):
    name, net, inputs, _, inter = fixture
    img1, img2, pm1, pm2 = case_inputs(inputs, 'a')
    pc_tokens = []
    hooks = []
    if net.needs_pointmap:
        hooks = [block.register_forward_hook(lambda m, a, out: pc_tokens.append(out))
                 for block in net.dec_blocks_pc]
    with torch.inference_mode():
        enc1, enc2 = net.encode(img1, pm1), net.encode(img2, pm2)
        layers1, layers2 = net._decoder_layers(enc1.tokens, enc1.pos, enc1.injections,
                                               enc2.tokens, enc2.pos, enc2.injections,
                                               enc1.image_hw)
        raw1 = net.downstream_head1(layers1, enc1.image_hw)
        raw2 = net.downstream_head2(layers2, enc1.image_hw)
        embed1, embed2 = net.decoder_embed(enc1.tokens), net.decoder_embed(enc2.tokens)
    for hook in hooks:
        hook.remove()
    assert_close(enc1.tokens, inter['enc_feat1'], 'enc_feat1')
    assert_close(enc2.tokens, inter['enc_feat2'], 'enc_feat2')
    np.testing.assert_array_equal(enc1.pos.numpy(), inter['enc_pos1'])
    np.testing.assert_array_equal(enc2.pos.numpy(), inter['enc_pos2'])
    assert_close(embed1, inter['decoder_embed_view1'], 'decoder_embed_view1')
    assert_close(embed2, inter['decoder_embed_view2'], 'decoder_embed_view2')
    for k in range(13):
        assert_close(layers1[k], inter[f'dec1_{k:02d}'], f'dec1_{k:02d}')
        assert_close(layers2[k], inter[f'dec2_{k:02d}'], f'dec2_{k:02d}')
    assert_close(raw1, inter['head1_raw'], 'head1_raw')
    assert_close(raw2, inter['head2_raw'], 'head2_raw')
    if net.needs_pointmap:
        assert enc1.injections.shape == (1, 5, 15, 32)
        for k in range(5):
            assert_close(enc1.injections[:, k], inter[f'zero_conv_{k}_view1'], f'zc{k} v1')
            assert_close(enc2.injections[:, k], inter[f'zero_conv_{k}_view2'], f'zc{k} v2')
        # pc blocks ran once per view (encode is per frame): rows of view 1 then view 2.
        for k in range(1, 5):
            stacked = torch.cat((pc_tokens[k - 1], pc_tokens[k - 1 + 4]))
            assert_close(stacked, inter[f'pc_tokens_{k}'], f'pc_tokens_{k}')
    else:
        assert enc1.injections is None


def test_dust3r_weights_in_align3r_class_with_zero_convs(shared):
    """Fixture cross-check: the point-map branch only acts through the zero-convs."""
    a_cfg = json.loads((shared / 'fixtures' / 'align3r_tiny' / 'config.json').read_text())
    d_folder = shared / 'fixtures' / 'dust3r_tiny'
    net = build_pairwise_net(a_cfg)
    dust3r_state = fixture_net(d_folder).state_dict()
    state = net.state_dict()
    for key, value in state.items():
        if key in dust3r_state:
            state[key] = dust3r_state[key]
        elif key.startswith('zero_convs.'):
            state[key] = torch.zeros_like(value)
    net.load_state_dict(state, strict=True)
    inputs = np.load(shared / 'fixtures' / 'align3r_tiny' / 'inputs.npz')
    outputs = np.load(d_folder / 'outputs.npz')
    for case in CASES:
        with torch.inference_mode():
            out = net(*case_inputs(inputs, case))
        for field, key in OUTPUT_KEYS:
            assert_close(getattr(out, field), outputs[f'{case}_{key}'], f'cross {case} {field}')


def test_wrong_pointmap_changes_output(fixture):
    """The test can fail: a swapped point map moves the output far beyond the tolerance."""
    name, net, inputs, outputs, _ = fixture
    if not net.needs_pointmap:
        pytest.skip('DUSt3R has no point-map input')
    img1, img2, pm1, _ = case_inputs(inputs, 'a')
    with torch.inference_mode():
        out = net(img1, img2, pm1, pm1)
    err = np.abs(out.pts3d_in_other_view.numpy() - outputs['a_pts3d_in_other_view']).max()
    assert err > 100 * ATOL


@pytest.mark.parametrize('make, match', [
    (lambda i, p: (i[:, :1], i[:, :1], p, p), '3 \\(RGB\\) channels, got 1'),
    (lambda i, p: (i[:, :, :0], i[:, :, :0], p, p), 'empty'),
    (lambda i, p: (i[:, :, :40], i[:, :, :40], p[:, :40], p[:, :40]), '40x80'),
    (lambda i, p: (i, i[:, :, :32], p, p[:, :32]), 'differ'),
    (lambda i, p: (i, i, p, None), 'pointmap2 is required'),
    (lambda i, p: (i, i, p, p[:, :32]), 'pointmap2 must have shape'),
    (lambda i, p: (i, i, p, torch.where(p > 0.5, float('nan'), p)), 'non-finite'),
    (lambda i, p: (i, i, p, p + float('inf')), 'non-finite'),
])
def test_bad_input_raises_named_error(shared, make, match):
    folder = shared / 'fixtures' / 'align3r_tiny'
    net = fixture_net(folder)
    img1, _, pm1, _ = case_inputs(np.load(folder / 'inputs.npz'), 'a')
    with pytest.raises(InputError, match=match):
        net(*make(img1, pm1))
