"""``align3r-map`` end to end: the demo's output bag gives a mesh Open3D reads back, the mask
keeps a mover out of the map, and bad input is one line, exit 1 and nothing written."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from align3r_ros.mapping.bag_source import MapTopics
from align3r_ros.mapping.build import MapOptions, build_map
from align3r_ros.mapping.quality import SweptBall, map_quality
from align3r_ros.mapping.tsdf import OPEN3D_INSTALL, world_points
from align3r_ros.tools import map as map_tool
from mapping.conftest import needs_open3d
from mapping.map_bags import PARTS, synthetic_map_frames, write_output_bag


@pytest.fixture(scope='module')
def frames():
    return synthetic_map_frames(num_frames=12, height=48, width=64, seed=1)


@pytest.fixture(scope='module')
def bag(frames, tmp_path_factory):
    return write_output_bag(tmp_path_factory.mktemp('bags') / 'out', frames)


def _run(capsys, *argv):
    status = map_tool.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _nothing_beside(folder, name):
    return not [p.name for p in folder.iterdir() if name in p.name]


@pytest.mark.parametrize('missing', ['depth', 'camera_info', 'odometry+tf'])
def test_a_bag_without_depth_poses_or_camera_info_is_one_line_and_nothing_written(
        frames, tmp_path, capsys, missing):
    bad = write_output_bag(tmp_path / 'bad', frames,
                           parts=[p for p in PARTS if p not in missing.split('+')])
    status, out, err = _run(capsys, bad, '-o', tmp_path / 'map')
    assert status == 1 and out == ''
    assert len(err.strip().splitlines()) == 1 and err.startswith('align3r-map: error: no ')
    assert _nothing_beside(tmp_path, 'map')


def test_an_existing_output_is_refused_and_left_as_it_was(bag, tmp_path, capsys):
    (tmp_path / 'map').mkdir()
    (tmp_path / 'map' / 'mine.txt').write_text('keep')
    status, _, err = _run(capsys, bag, '-o', tmp_path / 'map')
    assert status == 1 and 'exists already' in err and len(err.strip().splitlines()) == 1
    assert [p.name for p in (tmp_path / 'map').iterdir()] == ['mine.txt']


def test_without_open3d_the_tool_says_how_to_install_it(bag, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'open3d', None)   # import open3d raises ImportError
    status, out, err = _run(capsys, bag, '-o', tmp_path / 'map')
    assert status == 1 and out == ''
    assert err.strip() == f'align3r-map: error: mapping needs Open3D: {OPEN3D_INSTALL}'
    assert _nothing_beside(tmp_path, 'map')


class _NoLibusb:
    """A meta-path finder that fails ``import open3d`` as the wheel does without libusb."""

    def find_spec(self, name, path=None, target=None):
        if name == 'open3d':
            raise ImportError('libusb-1.0.so.0: cannot open shared object file: No such file '
                              'or directory')
        return None


def test_open3d_without_its_system_library_names_the_debian_package(bag, tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.delitem(sys.modules, 'open3d', raising=False)
    monkeypatch.setattr(sys, 'meta_path', [_NoLibusb()] + sys.meta_path)
    status, _, err = _run(capsys, bag, '-o', tmp_path / 'map')
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert 'apt-get install libusb-1.0-0' in err and 'pip install' not in err
    assert _nothing_beside(tmp_path, 'map')


@needs_open3d
def test_the_demo_output_bag_gives_a_mesh_open3d_reads_back(tmp_path, capsys):
    import open3d

    from align3r_ros.tools import demo

    assert demo.main(['-o', str(tmp_path / 'demo'), '--frames', '8', '--quiet']) == 0
    status, out, err = _run(capsys, tmp_path / 'demo' / 'output_bag', '-o', tmp_path / 'map')
    assert status == 0, err
    assert 'of 8 depth images fused' in out
    mesh = open3d.io.read_triangle_mesh(str(tmp_path / 'map' / 'mesh.ply'))
    assert len(mesh.triangles) > 1000 and np.isfinite(np.asarray(mesh.vertices)).all()
    cloud = open3d.io.read_point_cloud(str(tmp_path / 'map' / 'points.ply'))
    assert len(cloud.points) > 1000 and cloud.has_normals()
    png = (tmp_path / 'map' / 'map.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    summary = json.loads((tmp_path / 'map' / 'map.json').read_text())
    assert summary['frames_fused'] == 8 and summary['triangles'] == len(mesh.triangles)
    assert _nothing_beside(tmp_path, '.map.')


@needs_open3d
def test_the_map_lies_on_the_surfaces_it_was_fused_from(frames, bag, tmp_path):
    from scipy.spatial import cKDTree

    (tmp_path / 'map').mkdir()
    outcome = build_map(bag, tmp_path / 'map', MapOptions(voxels_across=128))
    truth = np.concatenate([world_points(f, apply_mask=False) for f in frames])
    distance, _ = cKDTree(truth).query(outcome.fused.points)
    assert outcome.fused.frames_fused == len(frames)
    assert np.median(distance) < outcome.fused.params.voxel_size
    np.testing.assert_allclose(outcome.T_world_cam, [f.T_world_cam for f in frames], atol=1e-9)


def _static_points(frame):
    """World points of the frame's static pixels (the truth; independent of the mapper)."""
    from align3r_ros.geometry.camera import unproject_depth
    from align3r_ros.geometry.se3 import transform_points

    keep = np.isfinite(frame.depth) & ~frame.dynamic_mask
    return transform_points(frame.T_world_cam, unproject_depth(frame.depth, frame.K)[keep])


@needs_open3d
def test_apply_mask_keeps_the_mover_out_of_the_map(frames, bag, tmp_path):
    from align3r_ros.synthetic.scene import make_scene

    maps = {}
    for apply_mask in (False, True):
        folder = tmp_path / f'mask_{apply_mask}'
        folder.mkdir()
        maps[apply_mask] = build_map(bag, folder, MapOptions(
            voxels_across=128, apply_mask=apply_mask, topics=MapTopics()))
    static = np.concatenate([_static_points(f) for f in frames])
    movers = [SweptBall(np.stack([s.centre_at(k) for k in range(len(frames))]), s.radius)
              for s in make_scene(1).spheres if s.is_moving]
    threshold = 2 * maps[False].fused.params.voxel_size
    kept, masked = (map_quality(maps[m].fused.points, static, movers, threshold)
                    for m in (False, True))
    assert maps[True].masked_fraction > 0.01 and maps[False].masked_fraction == 0
    assert kept.trail_points > 100
    assert masked.trail_points <= 0.05 * kept.trail_points
