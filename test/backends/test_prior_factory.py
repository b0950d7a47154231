"""build_prior_backend: lazy choice of backend, explicit weights, pairing checked first."""

from __future__ import annotations

import logging

import pytest

from align3r_ros.backends.prior_external import ExternalPriorBackend
from align3r_ros.backends.prior_factory import build_prior_backend
from align3r_ros.config import PriorKind
from align3r_ros.config_io import load_config
from align3r_ros.errors import ConfigError, WeightsError


def _config(**flat):
    return load_config({'pairwise.checkpoint_prior': 'none', 'runtime.device': 'cpu', **flat})


def test_none_and_external():
    assert build_prior_backend(_config(**{'prior.backend': 'none'})) is None
    backend = build_prior_backend(_config(**{'prior.backend': 'external',
                                             'prior.kind': 'disparity',
                                             'pairwise.checkpoint_prior': 'depth_anything_v2'}))
    assert isinstance(backend, ExternalPriorBackend) and backend.kind == PriorKind.DISPARITY


@pytest.mark.parametrize('backend', ['depth_pro', 'depth_anything_v2', 'onnx'])
def test_missing_weights_name_the_fix(backend, tmp_path):
    with pytest.raises(WeightsError, match='needs prior.weights'):
        build_prior_backend(_config(**{'prior.backend': backend}))
    with pytest.raises(WeightsError, match='not found'):
        build_prior_backend(_config(**{'prior.backend': backend,
                                       'prior.weights': str(tmp_path / 'absent.bin')}))


def test_depth_pro_missing_weights_suggest_download():
    with pytest.raises(WeightsError, match='align3r-weights download depth_pro'):
        build_prior_backend(_config(**{'prior.backend': 'depth_pro'}))


def test_pairing_is_checked_before_loading(caplog):
    with pytest.raises(ConfigError, match='expects metric_depth'):
        build_prior_backend(load_config({'pairwise.checkpoint_prior': 'depth_pro',
                                         'prior.backend': 'depth_anything_v2',
                                         'prior.weights': '/nonexistent.pth'}))
    with caplog.at_level(logging.WARNING):
        build_prior_backend(_config(**{'prior.backend': 'external'}))
    assert 'prior.backend none' in caplog.text


def test_depth_anything_from_config(tmp_path):
    import torch

    from align3r_ros.networks.depth_anything.build import build_depth_anything_v2

    torch.manual_seed(0)
    path = tmp_path / 'depth_anything_v2_vits.pth'
    torch.save(build_depth_anything_v2('vits').state_dict(), path)
    flat = {'prior.backend': 'depth_anything_v2', 'prior.weights': str(path)}
    backend = build_prior_backend(_config(**flat, **{'prior.model': 'vits'}))
    assert backend.kind == PriorKind.DISPARITY
    assert backend.model.cfg.name == 'depth_anything_v2_vits'
    assert next(backend.model.parameters()).device.type == 'cpu'  # runtime.device: cpu
    with pytest.raises(WeightsError, match='vitl'):
        build_prior_backend(_config(**flat))  # prior.model defaults to vitl


def test_onnx_kind_must_match_prior_kind(tmp_path):
    onnx = pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    from onnx import TensorProto, helper

    from align3r_ros.networks.prior_onnx_contract import PriorOnnxContract

    graph = helper.make_graph(
        [helper.make_node('ReduceMean', ['rgb', 'axes'], ['prior'], keepdims=1)], 'g',
        [helper.make_tensor_value_info('rgb', TensorProto.FLOAT, [1, 3, 'h', 'w'])],
        [helper.make_tensor_value_info('prior', TensorProto.FLOAT, [1, 1, 'h', 'w'])],
        [helper.make_tensor('axes', TensorProto.INT64, [1], [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    model.ir_version = 8
    helper.set_model_props(model, PriorOnnxContract(prior_kind=PriorKind.DISPARITY,
                                                    multiple_of=2).to_metadata())
    onnx.save(model, str(tmp_path / 'p.onnx'))
    flat = {'prior.backend': 'onnx', 'prior.weights': str(tmp_path / 'p.onnx'),
            'pairwise.checkpoint_prior': 'depth_anything_v2'}
    with pytest.raises(ConfigError, match='expects disparity'):  # caught by check_pairing
        build_prior_backend(load_config({**flat, 'prior.kind': 'metric_depth'}))
    with pytest.raises(ConfigError, match='declares disparity'):  # caught from the metadata
        build_prior_backend(load_config({**flat, 'prior.kind': 'metric_depth',
                                         'pairwise.checkpoint_prior': 'none'}))
    backend = build_prior_backend(load_config({**flat, 'prior.kind': 'disparity'}))
    assert backend.kind == PriorKind.DISPARITY
