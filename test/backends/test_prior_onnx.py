"""ONNX prior backend: the I/O contract, export parity with torch, hand-written contract models."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from align3r_ros.backends.prior_onnx import OnnxPriorBackend, select_providers
from align3r_ros.backends.prior_torch import DepthAnythingPriorBackend
from align3r_ros.config import PriorKind
from align3r_ros.errors import BackendError, InputError, WeightsError
from align3r_ros.networks.prior_onnx_contract import PriorOnnxContract

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
from onnx import TensorProto, helper  # noqa: E402


@pytest.fixture(scope='module')
def exported_dav2(tiny_dav2, tmp_path_factory):
    from align3r_ros.networks.prior_onnx_export import export_prior_onnx

    path = tmp_path_factory.mktemp('onnx') / 'dav2_tiny.onnx'
    return export_prior_onnx('depth_anything_v2', tiny_dav2, path, example_hw=(70, 98),
                             input_size=70)


@pytest.fixture(scope='module')
def rgb(dav2_dir):
    return np.ascontiguousarray(cv2.imread(str(dav2_dir / 'input_frame_rgb.png'))[..., ::-1])


def test_export_writes_the_contract(exported_dav2):
    assert exported_dav2.max_relative_error < 1e-4  # observed 2.4e-6
    contract = exported_dav2.contract
    assert contract.prior_kind == PriorKind.DISPARITY
    assert (contract.resize, contract.input_size, contract.multiple_of) == ('lower_bound', 70, 14)
    assert contract.output_align_corners
    props = {p.key: p.value for p in onnx.load(str(exported_dav2.path)).metadata_props}
    assert PriorOnnxContract.from_metadata(props) == contract


def test_onnx_dav2_matches_torch_and_fixture(exported_dav2, tiny_dav2, rgb, dav2_dir):
    backend = OnnxPriorBackend(exported_dav2.path, device='cpu')
    assert backend.kind == PriorKind.DISPARITY
    assert backend.providers == ['CPUExecutionProvider']
    torch_backend = DepthAnythingPriorBackend(tiny_dav2, input_size=70)
    io = np.load(dav2_dir / 'io.npz')
    yx = io['infer_image_sample_yx']
    for frame in (rgb, rgb[:300, :200], rgb[..., 0]):  # dynamic sizes (portrait), grayscale
        got = backend.estimate(frame).values
        want = torch_backend.estimate(frame).values
        assert got.shape == frame.shape[:2]
        assert np.abs(got - want).max() <= 1e-3 * np.abs(want).max()  # observed 2e-6
    np.testing.assert_allclose(backend.estimate(rgb).values[yx[:, 0], yx[:, 1]],
                               io['infer_image_sample_values'], rtol=1e-4, atol=1e-4)


def _contract_model(path, contract, *, fov=None, input_hw=('h', 'w'), extra_output=True,
                    metadata=True):
    """A hand-written model: prior = 2 + mean over channels of rgb; fov_deg constant."""
    nodes = [helper.make_node('ReduceMean', ['rgb', 'axes'], ['mean'], keepdims=1),
             helper.make_node('Add', ['mean', 'two'], ['prior'])]
    inits = [helper.make_tensor('axes', TensorProto.INT64, [1], [1]),
             helper.make_tensor('two', TensorProto.FLOAT, [], [2.0])]
    outputs = [helper.make_tensor_value_info('prior', TensorProto.FLOAT, [1, 1, *input_hw])]
    if fov is not None:
        inits.append(helper.make_tensor('fov_value', TensorProto.FLOAT, [1], [fov]))
        nodes.append(helper.make_node('Identity', ['fov_value'], ['fov_deg']))
        outputs.append(helper.make_tensor_value_info('fov_deg', TensorProto.FLOAT, [1]))
    graph = helper.make_graph(
        nodes, 'prior', [helper.make_tensor_value_info('rgb', TensorProto.FLOAT,
                                                       [1, 3, *input_hw])], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    model.ir_version = 8
    if metadata:
        helper.set_model_props(model, contract.to_metadata())
    onnx.save(model, str(path))
    return path


def test_generic_direct_model_host_pipeline(tmp_path):
    contract = PriorOnnxContract(prior_kind=PriorKind.METRIC_DEPTH, resize='fixed',
                                 input_hw=(32, 32), input_interpolation='linear',
                                 mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    path = _contract_model(tmp_path / 'm.onnx', contract, input_hw=(32, 32))
    backend = OnnxPriorBackend(path, device='auto')
    assert backend.kind == PriorKind.METRIC_DEPTH
    prior = backend.estimate(np.full((48, 64, 3), 255, np.uint8))
    # normalised white = (1 - 0.5) / 0.5 = 1 -> prior 3 everywhere, resized to the frame
    assert prior.values.shape == (48, 64)
    np.testing.assert_allclose(prior.values, 3.0, rtol=1e-6)


def test_canonical_inverse_depth_decoding(tmp_path):
    contract = PriorOnnxContract(prior_kind=PriorKind.METRIC_DEPTH,
                                 output_encoding='canonical_inverse_depth', resize='fixed',
                                 input_hw=(16, 16), input_interpolation='linear',
                                 mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    black = np.zeros((30, 40, 3), np.uint8)  # prior = 2 (canonical inverse depth)
    with_fov = OnnxPriorBackend(
        _contract_model(tmp_path / 'fov.onnx', contract, fov=90.0, input_hw=(16, 16)))
    prior = with_fov.estimate(black)
    # f = 0.5 W / tan(45 deg) = 20 px -> inverse = 2 * 40 / 20 = 4 -> depth 0.25 m
    assert prior.focal_px == pytest.approx(20.0)
    np.testing.assert_allclose(prior.values, 0.25, rtol=1e-6)
    K = np.array([[80.0, 0, 20], [0, 80, 15], [0, 0, 1]])
    prior = with_fov.estimate(black, K)  # known focal wins: inverse = 2 * 40 / 80 = 1
    assert prior.focal_px == pytest.approx(80.0)
    np.testing.assert_allclose(prior.values, 1.0, rtol=1e-6)
    no_fov = OnnxPriorBackend(
        _contract_model(tmp_path / 'nofov.onnx', contract, input_hw=(16, 16)))
    with pytest.raises(InputError, match='fov_deg'):
        no_fov.estimate(black)
    np.testing.assert_allclose(no_fov.estimate(black, K).values, 1.0, rtol=1e-6)


def test_contract_violations_are_named(tmp_path):
    contract = PriorOnnxContract(prior_kind=PriorKind.DISPARITY, resize='fixed',
                                 input_hw=(16, 16))
    with pytest.raises(WeightsError, match='no align3r.contract'):
        OnnxPriorBackend(_contract_model(tmp_path / 'a.onnx', contract, input_hw=(16, 16),
                                         metadata=False))
    with pytest.raises(WeightsError, match='fixed at'):
        OnnxPriorBackend(_contract_model(tmp_path / 'b.onnx', contract, input_hw=(20, 16)))
    with pytest.raises(WeightsError, match='not found'):
        OnnxPriorBackend(tmp_path / 'absent.onnx')
    (tmp_path / 'c.onnx').write_bytes(b'garbage')
    with pytest.raises(WeightsError, match='cannot load'):
        OnnxPriorBackend(tmp_path / 'c.onnx')
    props = contract.to_metadata()
    with pytest.raises(WeightsError, match="contract '2'"):
        PriorOnnxContract.from_metadata({**props, 'align3r.contract': '2'})
    with pytest.raises(WeightsError, match='malformed'):
        PriorOnnxContract.from_metadata({**props, 'align3r.prior_kind': 'depthish'})
    with pytest.raises(WeightsError, match='decodes to metric_depth'):
        PriorOnnxContract(prior_kind=PriorKind.DISPARITY,
                          output_encoding='canonical_inverse_depth')


def test_execution_providers():
    assert select_providers('auto', ['CPUExecutionProvider']) == ['CPUExecutionProvider']
    assert select_providers('auto', ['CUDAExecutionProvider', 'CPUExecutionProvider'])[0] == \
        'CUDAExecutionProvider'
    assert select_providers('cpu', ['CUDAExecutionProvider', 'CPUExecutionProvider']) == \
        ['CPUExecutionProvider']
    with pytest.raises(BackendError, match='onnxruntime-gpu'):
        select_providers('cuda', ['CPUExecutionProvider'])


@pytest.mark.slow
def test_depth_pro_export_parity(shared, tmp_path):
    # Tiny Depth Pro keeps the 1536 x 1536 pyramid: export + two runs take minutes on 2 cores.
    from align3r_ros.backends.prior_torch import DepthProPriorBackend
    from align3r_ros.networks.depth_pro import load_depth_pro
    from align3r_ros.networks.prior_onnx_export import export_prior_onnx

    folder = shared / 'fixtures' / 'depth_pro_tiny'
    model = load_depth_pro(folder / 'weights.safetensors',
                           config=json.loads((folder / 'config.json').read_text()))
    exported = export_prior_onnx('depth_pro', model, tmp_path / 'depth_pro_tiny.onnx')
    assert exported.max_relative_error < 1e-3
    image = np.load(folder / 'inputs.npz')['image_uint8']
    outputs = np.load(folder / 'outputs.npz')
    prior = OnnxPriorBackend(exported.path, device='cpu').estimate(image)
    assert prior.focal_px == pytest.approx(float(outputs['focallength_px']), rel=1e-4)
    np.testing.assert_allclose(prior.values, outputs['depth'], rtol=1e-3)
    torch_prior = DepthProPriorBackend(model).estimate(image)
    assert np.abs(prior.values / torch_prior.values - 1).max() < 1e-3


def test_decode_rejects_multi_channel_outputs():
    from align3r_ros.backends.prior_onnx import decode_output

    contract = PriorOnnxContract(prior_kind=PriorKind.DISPARITY)
    with pytest.raises(BackendError, match=r'\(1, 2, 4, 4\)'):
        decode_output(np.zeros((1, 2, 4, 4), np.float32), None, (8, 8), None, contract)
    values, focal = decode_output(np.ones((1, 4, 4), np.float32), None, (8, 8), None, contract)
    assert values.shape == (8, 8) and focal is None
