"""TSDF fusion with Open3D (its tensor ``VoxelBlockGrid``, CPU), and the voxel size a scene needs.

Open3D is optional (it is large and its Linux wheel needs Debian's ``libusb-1.0-0``); only this
module imports it, through :func:`require_open3d`, whose error says how to install it in one
line. Everything else in :mod:`align3r_ros.mapping` works on numpy arrays.

Conventions: depth along the optical axis in the map's units, NaN (or <= 0) invalid; poses
camera-to-world with REP 103 optical axes, which is also Open3D's pinhole convention; the
camera's skew ``K[0, 1]`` is ignored (Open3D's pinhole has none; published depth has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

import numpy as np

from align3r_ros.errors import BackendError, InputError
from align3r_ros.geometry.camera import unproject_depth
from align3r_ros.geometry.se3 import invert_transform, transform_points
from align3r_ros.mapping.frames import MapFrame

#: the one line that says how to get Open3D
#: the voxel blocks (8^3 voxels each) the grid starts with; Open3D grows the table when needed
_BLOCKS = 20000
OPEN3D_INSTALL = ('python3 -m pip install open3d-cpu==0.20.0 (on Debian/Ubuntu also: apt-get '
                  'install libusb-1.0-0)')


def require_open3d() -> Any:
    """The ``open3d`` module.

    Raises:
        BackendError: Open3D is not installed, or its system library is missing (one line
            saying what to install).
    """
    try:
        import open3d
    except ImportError as exc:
        if 'libusb' in str(exc):
            raise BackendError('Open3D cannot load libusb-1.0 (apt-get install libusb-1.0-0)') \
                from None
        raise BackendError(f'mapping needs Open3D: {OPEN3D_INSTALL}') from None
    return open3d


@dataclass(frozen=True)
class TsdfParams:
    """The TSDF volume.

    Attributes:
        voxel_size: voxel edge, in the map's units (> 0).
        truncation_voxels: the signed distance is truncated at this many voxels (> 0).
        min_weight: a voxel is on the surface only when observed with at least this weight
            (one frame adds 1; Open3D's default is 3).
    """

    voxel_size: float
    truncation_voxels: float = 4.0
    min_weight: float = 3.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.voxel_size) and self.voxel_size > 0):
            raise InputError(f'voxel size must be a finite number > 0, got {self.voxel_size}')
        if not (np.isfinite(self.truncation_voxels) and self.truncation_voxels > 0):
            raise InputError(f'truncation must be > 0 voxels, got {self.truncation_voxels}')
        if not (np.isfinite(self.min_weight) and self.min_weight >= 0):
            raise InputError(f'the minimum weight must be >= 0, got {self.min_weight}')

    @property
    def sdf_trunc(self) -> float:
        return float(self.voxel_size * self.truncation_voxels)


@dataclass(frozen=True)
class FusedMap:
    """A fused map as arrays (Open3D-free downstream).

    Attributes:
        points: (P, 3) float64 surface points in the world frame.
        normals: (P, 3) float64 unit normals of ``points`` (zeros where unknown).
        vertices: (V, 3) float64 mesh vertices in the world frame.
        triangles: (T, 3) int64 vertex indices.
        frames_fused: frames integrated.
        params: the volume's parameters.
    """

    points: np.ndarray
    normals: np.ndarray
    vertices: np.ndarray
    triangles: np.ndarray
    frames_fused: int
    params: TsdfParams


def world_points(frame: MapFrame, apply_mask: bool, stride: int = 1) -> np.ndarray:
    """(P, 3) world points of a frame's valid (and, with ``apply_mask``, static) pixels."""
    depth = frame.depth_to_fuse(apply_mask)[::stride, ::stride]
    K = np.array(frame.K, dtype=np.float64)
    K[:2] /= stride  # pixel u' of the subsampled image is pixel u = stride * u'
    points = unproject_depth(depth, K)[np.isfinite(depth)]
    return transform_points(frame.T_world_cam, points)


def scene_extent(frames: Iterable[MapFrame], apply_mask: bool,
                 points_per_frame: int = 4096) -> float:
    """The diagonal of the 1st-99th percentile box of the frames' world points (map units).

    Each frame gives at most about ``points_per_frame`` points (a pixel stride), so memory
    stays bounded on long recordings.

    Raises:
        InputError: no frame holds a valid depth.
    """
    chunks = []
    for frame in frames:
        stride = max(1, int(np.ceil(np.sqrt(frame.depth.size / points_per_frame))))
        chunks.append(world_points(frame, apply_mask, stride))
    points = np.concatenate(chunks) if chunks else np.zeros((0, 3))
    if points.shape[0] < 2:
        raise InputError('no valid depth to measure the scene from')
    lo, hi = np.percentile(points, [1.0, 99.0], axis=0)
    extent = float(np.linalg.norm(hi - lo))
    if not extent > 0:
        raise InputError('the scene has no extent (every point is the same)')
    return extent


class TsdfFusion:
    """Integrates map frames one at a time into an Open3D VoxelBlockGrid (tensor API, CPU).

    Open3D's legacy ScalableTSDFVolume integrates nothing in the 0.20 CPU wheel (measured:
    empty maps); the tensor grid is the maintained path. A grey colour channel is carried only
    because the grid's extraction needs one.

    Args:
        params: voxel size, truncation and the extraction's weight threshold.
        apply_mask: dynamic pixels (``MapFrame.dynamic_mask``) are left out of the volume.
    """

    def __init__(self, params: TsdfParams, apply_mask: bool = False) -> None:
        o3d = require_open3d()
        self._o3d = o3d
        self.params = params
        self.apply_mask = apply_mask
        o3c = o3d.core
        self._device = o3c.Device('CPU:0')
        self._grid = o3d.t.geometry.VoxelBlockGrid(
            attr_names=('tsdf', 'weight', 'color'),
            attr_dtypes=(o3c.float32, o3c.float32, o3c.float32), attr_channels=(1, 1, 3),
            voxel_size=float(params.voxel_size), block_resolution=8, block_count=_BLOCKS,
            device=self._device)
        self.frames_fused = 0

    def integrate(self, frame: MapFrame) -> bool:
        """Fuse one frame; False (nothing fused) when it has no valid depth left."""
        o3d = self._o3d
        o3c = o3d.core
        depth = frame.depth_to_fuse(self.apply_mask)
        valid = np.isfinite(depth) & (depth > 0)
        if not valid.any():
            return False
        depth = np.ascontiguousarray(np.where(valid, depth, 0.0), dtype=np.float32)
        depth_max = float(depth[valid].max()) * 1.001 + 1e-6
        grey = np.full(depth.shape + (3,), 0.7, dtype=np.float32)
        depth_image = o3d.t.geometry.Image(o3c.Tensor(depth, device=self._device))
        colour_image = o3d.t.geometry.Image(o3c.Tensor(grey, device=self._device))
        K = o3c.Tensor(np.asarray(frame.K, dtype=np.float64))
        extrinsic = o3c.Tensor(invert_transform(frame.T_world_cam))   # world -> camera
        trunc = float(self.params.truncation_voxels)
        blocks = self._grid.compute_unique_block_coordinates(depth_image, K, extrinsic, 1.0,
                                                             depth_max, trunc)
        self._grid.integrate(blocks, depth_image, colour_image, K, extrinsic, 1.0, depth_max,
                             trunc)
        self.frames_fused += 1
        return True

    def result(self) -> FusedMap:
        """The surface points (with normals) and the triangle mesh of what was fused."""
        weight = float(self.params.min_weight)
        empty = np.zeros((0, 3))
        if self.frames_fused == 0:
            return FusedMap(empty, empty, empty, np.zeros((0, 3), np.int64), 0, self.params)
        cloud = self._grid.extract_point_cloud(weight).to_legacy()
        mesh = self._grid.extract_triangle_mesh(weight).to_legacy()
        points = np.asarray(cloud.points, dtype=np.float64).reshape(-1, 3)
        normals = np.asarray(cloud.normals, dtype=np.float64).reshape(-1, 3) \
            if cloud.has_normals() else np.zeros_like(points)
        return FusedMap(points=points, normals=normals,
                        vertices=np.asarray(mesh.vertices, dtype=np.float64).reshape(-1, 3),
                        triangles=np.asarray(mesh.triangles, dtype=np.int64).reshape(-1, 3),
                        frames_fused=self.frames_fused, params=self.params)


def fuse(frames: Iterable[MapFrame], params: TsdfParams, apply_mask: bool = False) -> FusedMap:
    """Fuse every frame (see :class:`TsdfFusion`)."""
    fusion = TsdfFusion(params, apply_mask)
    for frame in frames:
        fusion.integrate(frame)
    return fusion.result()


def write_ply(fused: FusedMap, mesh_path: Optional[Any], points_path: Optional[Any]) -> None:
    """Write the mesh and/or the point cloud (with normals) as binary PLY with Open3D.

    Raises:
        BackendError: Open3D could not write a file.
    """
    o3d = require_open3d()
    if mesh_path is not None:
        mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(fused.vertices),
                                         o3d.utility.Vector3iVector(
                                             fused.triangles.astype(np.int32)))
        mesh.compute_vertex_normals()
        if not o3d.io.write_triangle_mesh(str(mesh_path), mesh):
            raise BackendError(f'Open3D could not write {mesh_path}')
    if points_path is not None:
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(fused.points))
        cloud.normals = o3d.utility.Vector3dVector(fused.normals)
        if not o3d.io.write_point_cloud(str(points_path), cloud):
            raise BackendError(f'Open3D could not write {points_path}')
