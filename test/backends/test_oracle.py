"""Oracle backend: exact geometry without noise, stated noise/scale statistics, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.backends.base import NetworkView, PairwiseBackend, ViewTruth
from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.config import OracleConfig
from align3r_ros.errors import ConfigError, InputError
from align3r_ros.synthetic import make_sequence


def _views(seq, keys=None):
    keys = keys if keys is not None else [f.stamp_ns for f in seq.frames]
    return [NetworkView(key=k, image=np.zeros((3,) + f.shape, np.float32), K=f.K,
                        truth=ViewTruth(f.gt_depth, f.gt_T_world_cam, f.gt_dynamic_mask))
            for k, f in zip(keys, seq.frames)]


@pytest.fixture(scope='module')
def seq():
    return make_sequence(3, 32, 48, seed=4, num_movers=1)


def _to_world(points_in_cam_i, T_world_cam_i):
    return points_in_cam_i @ T_world_cam_i[:3, :3].T + T_world_cam_i[:3, 3]


def test_noise_free_oracle_is_exact_geometry(seq):
    backend = OracleBackend(OracleConfig(noise=0.0, scale_min=1.0, scale_max=1.0,
                                         dynamic_corruption=0.0))
    assert isinstance(backend, PairwiseBackend) and not backend.needs_pointmap
    pred = backend.predict(_views(seq), np.array([[0, 2], [2, 0]]))
    assert pred.pts_i.shape == (2, 32, 48, 3) and pred.pts_i.dtype == np.float32
    # pts_i is view i in its own frame: z equals the ground-truth depth
    np.testing.assert_allclose(pred.pts_i[0, ..., 2], seq.depth[0], rtol=1e-6)
    # pts_j of (0, 2), taken to the world with camera 0, equals frame 2's world points
    world_j = _to_world(pred.pts_j[0].astype(np.float64), seq.T_world_cam[0])
    world_2 = _to_world(pred.pts_i[1].astype(np.float64), seq.T_world_cam[2])
    np.testing.assert_allclose(world_j, world_2, atol=1e-4)
    assert pred.conf_i.min() >= 1.0 and np.median(pred.conf_i) > 10.0


def test_noise_and_scale_statistics(seq):
    config = OracleConfig(noise=0.02, scale_min=0.5, scale_max=2.0, dynamic_corruption=0.0)
    exact = OracleBackend(OracleConfig(noise=0.0, scale_min=1.0, scale_max=1.0,
                                       dynamic_corruption=0.0))
    edges = np.array([[i, j] for i in range(3) for j in range(3) if i != j])
    noisy = OracleBackend(config).predict(_views(seq), edges)
    clean = exact.predict(_views(seq), edges)
    scales = []
    for e in range(len(edges)):
        # the per-pair scale is the median ratio of norms; both maps share it
        ratio_i = np.median(np.linalg.norm(noisy.pts_i[e], axis=-1)
                            / np.linalg.norm(clean.pts_i[e], axis=-1))
        ratio_j = np.median(np.linalg.norm(noisy.pts_j[e], axis=-1)
                            / np.linalg.norm(clean.pts_j[e], axis=-1))
        assert ratio_i == pytest.approx(ratio_j, rel=0.01)
        assert 0.5 * 0.99 <= ratio_i <= 2.0 * 1.01
        scales.append(ratio_i)
        residual = noisy.pts_i[e] / ratio_i - clean.pts_i[e]
        distance = np.linalg.norm(clean.pts_i[e], axis=-1)
        per_axis_std = np.std(residual / distance[..., None])
        assert per_axis_std == pytest.approx(0.02, rel=0.1)
    assert len(set(np.round(scales, 6))) == len(edges)  # one scale per directed pair


def test_dynamic_pixels_are_displaced(seq):
    backend = OracleBackend(OracleConfig(noise=0.0, scale_min=1.0, scale_max=1.0,
                                         dynamic_corruption=0.3))
    exact = OracleBackend(OracleConfig(noise=0.0, scale_min=1.0, scale_max=1.0,
                                       dynamic_corruption=0.0))
    views = _views(seq)
    pred = backend.predict(views, np.array([[0, 1]]))
    clean = exact.predict(views, np.array([[0, 1]]))
    mask = seq.dynamic_mask[1]
    assert mask.sum() > 10
    shift = np.linalg.norm(pred.pts_j[0] - clean.pts_j[0], axis=-1)
    distance = np.linalg.norm(clean.pts_j[0], axis=-1)
    np.testing.assert_allclose(shift[mask] / distance[mask], 0.3, rtol=1e-4)
    assert np.all(shift[~mask] < 1e-5)


def test_deterministic_per_edge_and_seed(seq):
    config = OracleConfig(seed=7)
    views = _views(seq)
    a = OracleBackend(config).predict(views, np.array([[0, 1], [1, 2]]))
    b = OracleBackend(config).predict(views, np.array([[1, 2]]))
    np.testing.assert_array_equal(a.pts_j[1], b.pts_j[0])
    c = OracleBackend(OracleConfig(seed=8)).predict(views, np.array([[1, 2]]))
    assert not np.array_equal(b.pts_j[0], c.pts_j[0])


def test_invalid_depth_gets_unit_confidence(seq):
    depth = seq.depth[0].copy()
    depth[:5] = np.nan
    depth[5:8] = 0.0
    view = NetworkView(key=1, image=np.zeros((3, 32, 48), np.float32), K=seq.K,
                       truth=ViewTruth(depth=depth, T_world_cam=seq.T_world_cam[0]))
    pred = OracleBackend(OracleConfig()).predict([view, _views(seq)[1]], np.array([[0, 1]]))
    assert np.all(pred.conf_i[0, :8] == 1.0) and np.all(np.isfinite(pred.pts_i))


def test_bad_requests_raise(seq):
    views = _views(seq)
    backend = OracleBackend(OracleConfig())
    no_gt = NetworkView(key=9, image=np.zeros((3, 32, 48), np.float32))
    with pytest.raises(InputError, match='key 9'):
        backend.predict([views[0], no_gt], np.array([[0, 1]]))
    small = NetworkView(key=9, image=np.zeros((3, 16, 48), np.float32), K=seq.K,
                        truth=ViewTruth(depth=np.ones((16, 48)), T_world_cam=np.eye(4)))
    with pytest.raises(InputError, match='share a size'):
        backend.predict([views[0], small], np.array([[0, 1]]))
    with pytest.raises(InputError, match='out of range'):
        backend.predict(views, np.array([[0, 5]]))
    with pytest.raises(ConfigError, match='scale_min'):
        OracleBackend(OracleConfig(scale_min=3.0, scale_max=2.0))
