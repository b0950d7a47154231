"""ONNX export of the pairwise net: onnxruntime reproduces the fixtures and torch (<= 1e-3 rel)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from align3r_ros.errors import ConfigError, InputError, WeightsError
from align3r_ros.networks.pairwise.checkpoint import load_pairwise_net
from align3r_ros.networks.pairwise.onnx_export import (export_pairwise_onnx,
                                                       onnx_vs_torch_error)
from align3r_ros.networks.pairwise.onnx_runtime import (
    DECODER_FILE, ENCODER_FILE, INFO_FILE, PairwiseOnnxInfo, PairwiseOnnxSession)

# Issue 2: onnxruntime vs torch <= 1e-3 relative. Measured here: ~5e-6 (fp32 reassociation).
REL_TOL = 1e-3
OUTPUTS = (('pts3d', 'pts3d'), ('conf', 'conf'), ('pts3d_in_other_view', 'pts3d_in_other_view'),
           ('conf_in_other_view', 'conf2'))


@pytest.fixture(scope='module')
def align3r(shared, tmp_path_factory):
    folder = shared / 'fixtures' / 'align3r_tiny'
    net = load_pairwise_net(folder / 'weights.safetensors')
    out = tmp_path_factory.mktemp('align3r_onnx')
    # Traced at 64x96 (even 4x6 grid); verify checks it and 96x64; the fixtures add 3x5 / 5x3.
    info = export_pairwise_onnx(net, out, example_hw=(64, 96))
    return folder, net, out, info, PairwiseOnnxSession(out, threads=1)


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


def test_files_and_info(align3r):
    _, net, out, info, _ = align3r
    assert (out / ENCODER_FILE).is_file() and (out / DECODER_FILE).is_file()
    assert not list(out.glob('*.data'))  # tiny weights stay inside the protobuf
    assert info == PairwiseOnnxInfo.read(out)
    assert info.architecture == 'align3r' and info.needs_pointmap
    assert (info.enc_embed_dim, info.dec_embed_dim, info.num_injections) == (64, 32, 5)
    assert info.dynamic_size and info.example_hw == (64, 96) and info.opset >= 17
    assert info.max_rel_error < REL_TOL
    assert json.loads((out / INFO_FILE).read_text())['architecture'] == 'align3r'


@pytest.mark.parametrize('case', ['a', 'b', 'c'])  # landscape, portrait, batch of 2
def test_onnxruntime_matches_fixture_and_torch(align3r, case):
    folder, net, _, _, session = align3r
    inputs = np.load(folder / 'inputs.npz')
    expected = np.load(folder / 'outputs.npz')
    tokens1, inj1 = session.encode(inputs[f'{case}_img1'], inputs[f'{case}_pred_depth1'])
    tokens2, inj2 = session.encode(inputs[f'{case}_img2'], inputs[f'{case}_pred_depth2'])
    h, w = inputs[f'{case}_img1'].shape[2:]
    assert tokens1.shape[1:] == (h // 16, w // 16, 64)
    assert inj1.shape[1:] == (5, h // 16, w // 16, 32)
    got = session.decode(tokens1, inj1, tokens2, inj2)
    with torch.no_grad():
        ref = net(*(torch.from_numpy(inputs[f'{case}_{k}'])
                    for k in ('img1', 'img2', 'pred_depth1', 'pred_depth2')))
    for value, (field, key) in zip(got, OUTPUTS):
        assert value.shape == expected[f'{case}_{key}'].shape
        assert _relative(value, getattr(ref, field).numpy()) < REL_TOL, field
        assert _relative(value, expected[f'{case}_{key}']) < REL_TOL, field


def test_dynamic_batch_and_other_sizes(align3r):
    _, net, _, _, session = align3r
    for hw, batch in (((48, 48), 1), ((80, 64), 3)):
        assert onnx_vs_torch_error(net, session, hw, batch=batch) < REL_TOL


def test_session_rejects_bad_input(align3r):
    session = align3r[-1]
    image = np.zeros((1, 3, 64, 96), np.float32)
    with pytest.raises(InputError, match='multiples of 16'):
        session.encode(np.zeros((1, 3, 60, 96), np.float32), np.zeros((1, 60, 96, 3)))
    with pytest.raises(InputError, match='point maps'):
        session.encode(image, None)
    tokens, inj = session.encode(image, np.zeros((1, 64, 96, 3), np.float32))
    with pytest.raises(InputError, match='differ'):
        session.decode(tokens, inj, tokens[:, :2], inj[:, :, :2])


def test_missing_export_raises(tmp_path):
    with pytest.raises(WeightsError, match=INFO_FILE):
        PairwiseOnnxSession(tmp_path)


def test_bad_export_size_raises(align3r, tmp_path):
    net = align3r[1]
    for hw in ((60, 96), (16, 96)):
        with pytest.raises(ConfigError, match='multiples of 16'):
            export_pairwise_onnx(net, tmp_path, example_hw=hw, verify=False)
    with pytest.raises(ConfigError, match='opset'):
        export_pairwise_onnx(net, tmp_path, opset=13, verify=False)


def test_large_graphs_get_one_external_data_file(tmp_path, monkeypatch):
    import onnxruntime as ort

    from align3r_ros.networks.pairwise import onnx_export as pairwise_onnx

    # The full-size graphs (encoder 1.34 GB, decoder 1.06 GB) fit the 2 GB protobuf limit;
    # larger ones go to one external file. Exercise that path with a lowered threshold.
    monkeypatch.setattr(pairwise_onnx, 'EXTERNAL_DATA_THRESHOLD', 1000)
    layer = torch.nn.Conv2d(3, 64, 3)
    path = tmp_path / 'encoder.onnx'
    pairwise_onnx._export_graph(layer, (torch.randn(2, 3, 16, 16),), ('image',), ('tokens',),
                                path, 17)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['encoder.onnx', 'encoder.onnx.data']
    assert (tmp_path / 'encoder.onnx.data').stat().st_size >= 64 * 3 * 9 * 4
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 48)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    got = session.run(None, {'image': x})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, layer(torch.from_numpy(x)).numpy(), rtol=1e-5,
                                   atol=1e-6)
