"""TorchPairwiseBackend: fixture parity through the backend, per-frame cache, batching, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip('torch')
from safetensors.torch import load_file  # noqa: E402

from align3r_ros.backends.base import NetworkView, PairwiseBackend  # noqa: E402
from align3r_ros.backends.torch_pairwise import TorchPairwiseBackend  # noqa: E402
from align3r_ros.config_io import load_config  # noqa: E402
from align3r_ros.errors import InputError, WeightsError  # noqa: E402
from align3r_ros.networks.pairwise.build import build_pairwise_net  # noqa: E402

TOL = dict(rtol=1e-4, atol=1e-4)  # fixture README tolerance (fp32, CPU)


def fixture_net(shared, name):
    folder = shared / 'fixtures' / name
    config = json.loads((folder / 'config.json').read_text())
    net = build_pairwise_net(config)
    state = load_file(str(folder / 'weights.safetensors'))
    for alias, target in config['weights']['alias_of'].items():
        state[alias] = state[target]
    net.load_state_dict(state)
    return net


@pytest.fixture(scope='module')
def align3r_net(shared):
    return fixture_net(shared, 'align3r_tiny')


def case_c_views(shared, name='align3r_tiny', with_pointmaps=True):
    """Frames of fixture case (c): keys 10, 11 (pair 0) and 20, 21 (pair 1), 64x96."""
    inputs = np.load(shared / 'fixtures' / name / 'inputs.npz')
    views = []
    for b in range(2):
        for v in (1, 2):
            pm = inputs[f'c_pred_depth{v}'][b] if with_pointmaps and name == 'align3r_tiny' \
                else None
            views.append(NetworkView(key=10 * (b + 1) + v - 1, image=inputs[f'c_img{v}'][b],
                                     pointmap=pm))
    return views


def test_matches_fixture_and_caches_frames(shared, align3r_net):
    backend = TorchPairwiseBackend(align3r_net, batch_pairs=2, cache_frames=8)
    assert isinstance(backend, PairwiseBackend) and backend.needs_pointmap
    views = case_c_views(shared)
    edges = np.array([[0, 1], [2, 3], [1, 0]])
    pred = backend.predict(views, edges)
    ref = np.load(shared / 'fixtures' / 'align3r_tiny' / 'outputs.npz')
    for e, b in ((0, 0), (1, 1)):
        np.testing.assert_allclose(pred.pts_i[e], ref['c_pts3d'][b], **TOL)
        np.testing.assert_allclose(pred.pts_j[e], ref['c_pts3d_in_other_view'][b], **TOL)
        np.testing.assert_allclose(pred.conf_i[e], ref['c_conf'][b], **TOL)
        np.testing.assert_allclose(pred.conf_j[e], ref['c_conf2'][b], **TOL)
    # the reversed edge equals the network run on the swapped pair
    with torch.inference_mode():
        out = align3r_net(*(torch.from_numpy(x[None]) for x in (
            views[1].image, views[0].image, views[1].pointmap, views[0].pointmap)))
    np.testing.assert_allclose(pred.pts_i[2], out.pts3d[0].numpy(), **TOL)
    assert pred.pts_i.dtype == np.float32 and pred.conf_j.shape == (3, 64, 96)
    assert backend.encode_count == 4
    backend.predict(views, np.array([[1, 2], [3, 0]]))
    assert backend.encode_count == 4                       # every frame came from the cache
    backend.forget([10])
    backend.predict(views, np.array([[0, 1]]))
    assert backend.encode_count == 5                       # only the forgotten frame re-encoded


def test_lru_bound_and_batch_size_do_not_change_results(shared, align3r_net):
    views = case_c_views(shared)
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [0, 2]])
    small = TorchPairwiseBackend(align3r_net, batch_pairs=1, cache_frames=2)
    big = TorchPairwiseBackend(align3r_net, batch_pairs=8, cache_frames=64)
    pred_small, pred_big = small.predict(views, edges), big.predict(views, edges)
    assert len(small.cached_keys) == 2 and len(big.cached_keys) == 4
    for name in ('pts_i', 'pts_j', 'conf_i', 'conf_j'):
        np.testing.assert_allclose(getattr(pred_small, name), getattr(pred_big, name), **TOL)
    np.testing.assert_array_equal(pred_big.edges, edges)


def test_dust3r_backend_needs_no_pointmap(shared):
    backend = TorchPairwiseBackend(fixture_net(shared, 'dust3r_tiny'))
    assert not backend.needs_pointmap
    pred = backend.predict(case_c_views(shared, 'dust3r_tiny'), np.array([[0, 1]]))
    ref = np.load(shared / 'fixtures' / 'dust3r_tiny' / 'outputs.npz')
    np.testing.assert_allclose(pred.pts_j[0], ref['c_pts3d_in_other_view'][0], **TOL)


def test_empty_edges(shared, align3r_net):
    pred = TorchPairwiseBackend(align3r_net).predict(case_c_views(shared), np.zeros((0, 2)))
    assert pred.num_edges == 0 and pred.pts_i.shape == (0, 64, 96, 3)


def _replace(view, **changes):
    fields = dict(key=view.key, image=view.image, pointmap=view.pointmap)
    fields.update(changes)
    return NetworkView(**fields)


@pytest.mark.parametrize('mutate, edges, match', [
    (lambda v: [v[0], _replace(v[1], image=v[1].image[:, :48],
                               pointmap=v[1].pointmap[:48])], [[0, 1]], 'share one size'),
    (lambda v: [v[0], _replace(v[1], pointmap=None)], [[0, 1]], 'key=11 has no point map'),
    (lambda v: [v[0], _replace(v[1], pointmap=np.full_like(v[1].pointmap, np.nan))], [[0, 1]],
     'key=11: point map has 18432 non-finite'),
    (lambda v: v, [[0, 7]], r'edge \[0, 7\] indexes outside'),
    (lambda v: v, [[0.0, 1.0]], 'integer'),
    (lambda v: [_replace(x, image=x.image[:, :40], pointmap=x.pointmap[:40]) for x in v],
     [[0, 1]], '40x96'),
    (lambda v: [], [[0, 1]], 'at least one view'),
])
def test_bad_requests_raise_input_error(shared, align3r_net, mutate, edges, match):
    backend = TorchPairwiseBackend(align3r_net)
    with pytest.raises(InputError, match=match):
        backend.predict(mutate(case_c_views(shared)), np.array(edges))


def test_from_config(shared, tmp_path):
    folder = shared / 'fixtures' / 'align3r_tiny'
    shutil.copy(folder / 'weights.safetensors', tmp_path / 'model.safetensors')
    shutil.copy(folder / 'config.json', tmp_path / 'config.json')
    config = load_config({'pairwise': {'weights': str(tmp_path / 'model.safetensors'),
                                       'batch_pairs': 3, 'cache_frames': 5},
                          'runtime': {'device': 'cpu', 'dtype': 'bf16'}})
    backend = TorchPairwiseBackend.from_config(config)
    assert (backend.batch_pairs, backend.cache_frames) == (3, 5)
    assert backend.dtype == torch.float32  # autocast only on accelerators
    assert backend.needs_pointmap
    with pytest.raises(WeightsError, match='pairwise.weights is empty'):
        TorchPairwiseBackend.from_config(load_config({'runtime': {'device': 'cpu'}}))


@pytest.mark.gpu
@pytest.mark.parametrize('dtype', ['fp16', 'bf16'])
def test_cuda_autocast_close_to_fp32_with_fp32_heads(shared, align3r_net, dtype):
    views = case_c_views(shared)
    edges = np.array([[0, 1], [2, 3]])
    ref = TorchPairwiseBackend(align3r_net, device='cpu').predict(views, edges)
    gpu = TorchPairwiseBackend(fixture_net(shared, 'align3r_tiny'), device='cuda', dtype=dtype)
    pred = gpu.predict(views, edges)
    assert pred.pts_i.dtype == np.float32
    assert next(gpu.net.downstream_head1.parameters()).dtype == torch.float32
    # Half-precision trunk: errors of a few percent of the point magnitude are expected.
    scale = np.abs(ref.pts_i).max()
    assert np.abs(pred.pts_i - ref.pts_i).max() < 0.05 * scale
    assert np.abs(pred.pts_j - ref.pts_j).max() < 0.05 * np.abs(ref.pts_j).max()
