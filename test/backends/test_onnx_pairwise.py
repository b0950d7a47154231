"""OnnxPairwiseBackend: parity with the fixtures and the torch backend, cache, batching, errors."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.backends.base import NetworkView, PairwiseBackend
from align3r_ros.backends.onnx_pairwise import OnnxPairwiseBackend
from align3r_ros.config_io import load_config
from align3r_ros.errors import BackendError, InputError, WeightsError

torch = pytest.importorskip('torch')

REL_TOL = 1e-3  # issue 2: onnxruntime vs torch <= 1e-3 relative (measured ~5e-6)


@pytest.fixture(scope='module')
def exported(shared, tmp_path_factory):
    from align3r_ros.networks.pairwise.checkpoint import load_pairwise_net
    from align3r_ros.networks.pairwise.onnx_export import export_pairwise_onnx

    net = load_pairwise_net(shared / 'fixtures' / 'align3r_tiny' / 'weights.safetensors')
    out = tmp_path_factory.mktemp('onnx_backend')
    export_pairwise_onnx(net, out, example_hw=(64, 96), verify=False)
    return net, out


def case_c_views(shared):
    """Fixture case (c): keys 10, 11 (pair 0) and 20, 21 (pair 1), 64x96."""
    inputs = np.load(shared / 'fixtures' / 'align3r_tiny' / 'inputs.npz')
    return [NetworkView(key=10 * (b + 1) + v - 1, image=inputs[f'c_img{v}'][b],
                        pointmap=inputs[f'c_pred_depth{v}'][b])
            for b in range(2) for v in (1, 2)]


def _relative(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


def test_matches_fixture_and_torch_backend(shared, exported):
    from align3r_ros.backends.torch_pairwise import TorchPairwiseBackend

    net, folder = exported
    backend = OnnxPairwiseBackend(folder, batch_pairs=2, threads=1)
    assert isinstance(backend, PairwiseBackend) and backend.needs_pointmap
    views = case_c_views(shared)
    edges = np.array([[0, 1], [2, 3], [1, 0], [3, 2], [0, 2]])
    pred = backend.predict(views, edges)
    assert pred.pts_i.shape == (5, 64, 96, 3) and pred.conf_j.shape == (5, 64, 96)
    assert pred.pts_i.dtype == np.float32
    ref = np.load(shared / 'fixtures' / 'align3r_tiny' / 'outputs.npz')
    for e, b in ((0, 0), (1, 1)):
        assert _relative(pred.pts_i[e], ref['c_pts3d'][b]) < REL_TOL
        assert _relative(pred.conf_i[e], ref['c_conf'][b]) < REL_TOL
        assert _relative(pred.pts_j[e], ref['c_pts3d_in_other_view'][b]) < REL_TOL
        assert _relative(pred.conf_j[e], ref['c_conf2'][b]) < REL_TOL
    torch_pred = TorchPairwiseBackend(net, batch_pairs=3).predict(views, edges)
    for name in ('pts_i', 'pts_j', 'conf_i', 'conf_j'):
        assert _relative(getattr(pred, name), getattr(torch_pred, name)) < REL_TOL, name
    np.testing.assert_array_equal(pred.edges, edges)


def test_cache_batching_and_forget(shared, exported):
    _, folder = exported
    views = case_c_views(shared)
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [1, 0]])
    backend = OnnxPairwiseBackend(folder, batch_pairs=2, cache_frames=3, threads=1)
    first = backend.predict(views, edges)
    assert backend.encode_count == 4          # each frame once, however many pairs
    assert len(backend.cached_keys) == 3      # LRU bound
    backend.predict(views[1:], np.array([[0, 1], [1, 2]]))
    assert backend.encode_count == 4          # keys 11, 20, 21 still cached
    backend.forget([11])
    assert 11 not in backend.cached_keys
    one_batch = OnnxPairwiseBackend(folder, batch_pairs=8, threads=1).predict(views, edges)
    np.testing.assert_allclose(first.pts_j, one_batch.pts_j, rtol=1e-5, atol=1e-5)
    empty = backend.predict(views, np.zeros((0, 2), np.int64))
    assert empty.num_edges == 0 and empty.pts_i.shape == (0, 64, 96, 3)


def test_bad_requests_raise(shared, exported):
    _, folder = exported
    backend = OnnxPairwiseBackend(folder, threads=1)
    views = case_c_views(shared)
    small = NetworkView(key=99, image=np.zeros((3, 48, 96), np.float32),
                        pointmap=np.zeros((48, 96, 3), np.float32))
    with pytest.raises(InputError, match='share one size'):
        backend.predict(views[:1] + [small], np.array([[0, 1]]))
    with pytest.raises(InputError, match='no point map'):
        backend.predict([views[0], NetworkView(key=5, image=views[1].image)],
                        np.array([[0, 1]]))
    bad_pm = views[1].pointmap.copy()
    bad_pm[0, 0, 0] = np.nan
    with pytest.raises(InputError, match='non-finite'):
        backend.predict([views[0], NetworkView(key=6, image=views[1].image, pointmap=bad_pm)],
                        np.array([[0, 1]]))
    with pytest.raises(InputError, match='outside'):
        backend.predict(views, np.array([[0, 4]]))
    with pytest.raises(InputError, match='multiples of 16'):
        odd = [NetworkView(key=k, image=np.zeros((3, 40, 96), np.float32),
                           pointmap=np.zeros((40, 96, 3), np.float32)) for k in (1, 2)]
        backend.predict(odd, np.array([[0, 1]]))


def test_from_config_errors(tmp_path):
    with pytest.raises(WeightsError, match='pairwise.weights is empty'):
        OnnxPairwiseBackend.from_config(load_config({'pairwise.backend': 'onnx'}))
    with pytest.raises(WeightsError, match='not found'):
        OnnxPairwiseBackend.from_config(load_config({'pairwise.backend': 'onnx',
                                                     'pairwise.weights': str(tmp_path)}))


def test_from_config_and_factory(exported):
    from align3r_ros.backends.factory import build_pairwise_backend

    config = load_config({'pairwise.backend': 'onnx', 'pairwise.weights': str(exported[1]),
                          'pairwise.batch_pairs': 3, 'runtime.device': 'cpu'})
    backend = build_pairwise_backend(config)
    assert isinstance(backend, OnnxPairwiseBackend) and backend.batch_pairs == 3


def test_cuda_without_provider_raises(exported):
    import onnxruntime as ort

    if 'CUDAExecutionProvider' in ort.get_available_providers():
        pytest.skip('this onnxruntime has the CUDA provider')
    with pytest.raises(BackendError, match='CUDAExecutionProvider'):
        OnnxPairwiseBackend(exported[1], device='cuda')


@pytest.mark.gpu
def test_cuda_provider_matches_cpu(shared, exported):
    import onnxruntime as ort

    if 'CUDAExecutionProvider' not in ort.get_available_providers():
        pytest.skip('onnxruntime without the CUDA provider (install onnxruntime-gpu)')
    views = case_c_views(shared)
    edges = np.array([[0, 1], [2, 3]])
    gpu = OnnxPairwiseBackend(exported[1], device='cuda').predict(views, edges)
    cpu = OnnxPairwiseBackend(exported[1], device='cpu').predict(views, edges)
    assert _relative(gpu.pts_i, cpu.pts_i) < REL_TOL
