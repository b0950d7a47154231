"""Depth + intrinsics -> sensor_msgs/PointCloud2 (x, y, z, rgb float32), and back for tests.

Points are in the camera's optical frame (REP 103: x right, y down, z forward), metres when the
depth is metric. ``rgb`` is the PCL convention: a float32 whose bits are 0x00RRGGBB. Organized
clouds keep the (strided) image grid with NaN points where invalid and ``is_dense = False``
(``sensor_msgs_py.create_cloud`` swaps width and height for 2-D arrays, so the message is built
directly); unorganized clouds hold only valid points with height 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from align3r_ros.errors import ConversionError
from align3r_ros.geometry.camera import image_plane_coordinates
from align3r_ros.messages.image import as_uint8
from align3r_ros.messages.types import MessageTypes

#: one point: x, y, z, rgb float32, 16 bytes.
POINT_DTYPE = np.dtype([('x', '<f4'), ('y', '<f4'), ('z', '<f4'), ('rgb', '<f4')])
_FIELD_NAMES = ('x', 'y', 'z', 'rgb')


@dataclass(frozen=True)
class CloudArrays:
    """A decoded cloud.

    Attributes:
        xyz: (height, width, 3) float32 points (NaN where invalid), cloud frame.
        rgb: (height, width, 3) uint8 colour, or None when the cloud has no rgb field.
        organized: True when height > 1.
    """

    xyz: np.ndarray
    rgb: Optional[np.ndarray]
    organized: bool


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> (...) float32 holding the bits 0x00RRGGBB."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    packed = np.zeros(rgb.shape[:-1] + (4,), dtype=np.uint8)  # little-endian bytes B, G, R, 0
    packed[..., :3] = rgb[..., ::-1]
    return packed.view('<f4')[..., 0]


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """(...) float32 0x00RRGGBB -> (..., 3) uint8 RGB."""
    bits = np.ascontiguousarray(packed, dtype='<f4').view('<u4')
    return np.stack([(bits >> 16) & 0xFF, (bits >> 8) & 0xFF, bits & 0xFF],
                    axis=-1).astype(np.uint8)


def depth_to_cloud_msg(depth: np.ndarray, K: np.ndarray, header: Any, types: MessageTypes,
                       rgb: Optional[np.ndarray] = None,
                       confidence: Optional[np.ndarray] = None, conf_threshold: float = 0.0,
                       stride: int = 1, organized: bool = True) -> Any:
    """Back-project a depth map into a PointCloud2 in the camera's optical frame.

    Args:
        depth: (H, W) float depth along optical z (metres when metric); NaN/<=0 invalid.
        K: (3, 3) intrinsics at (H, W).
        header: the depth image's header (stamp and optical frame id).
        types: message classes.
        rgb: optional (H, W, 3) uint8 colour; black when None.
        confidence: optional (H, W) confidence; pixels below ``conf_threshold`` are invalid.
        conf_threshold: confidence threshold (ignored without ``confidence``).
        stride: keep every stride-th pixel in both directions (grid ``[::stride, ::stride]``).
        organized: keep the strided grid (NaN invalid) or only the valid points (height 1).
    """
    depth = np.asarray(depth)
    K = np.asarray(K, dtype=np.float64)
    if depth.ndim != 2 or K.shape != (3, 3) or int(stride) < 1:
        raise ConversionError(f'cloud needs (H, W) depth, (3, 3) K and stride >= 1; got '
                              f'{depth.shape}, {K.shape}, {stride}')
    for name, arr in (('rgb', rgb), ('confidence', confidence)):
        if arr is not None and np.shape(arr)[:2] != depth.shape:
            raise ConversionError(f'{name} shape {np.shape(arr)} does not match depth '
                                  f'{depth.shape}')
    s = int(stride)
    z = np.array(depth[::s, ::s], dtype=np.float32)  # a copy: invalid pixels are set NaN
    with np.errstate(invalid='ignore'):
        invalid = ~(z > 0) | ~np.isfinite(z)
        if confidence is not None:
            invalid |= ~(np.asarray(confidence)[::s, ::s] >= conf_threshold)
    z[invalid] = np.nan  # NaN z makes x and y NaN too
    h, w = z.shape
    x_over_z, y_over_z = image_plane_coordinates(K, depth.shape[0], depth.shape[1], stride=s,
                                                 dtype=np.float32)
    points = np.empty((h, w, 4), dtype='<f4')  # x, y, z, rgb: the POINT_DTYPE layout
    np.multiply(x_over_z[None, :], z, out=points[..., 0])
    np.multiply(y_over_z[:, None], z, out=points[..., 1])
    points[..., 2] = z
    points[..., 3] = pack_rgb(rgb[::s, ::s]) if rgb is not None else 0.0
    if not organized:
        points = points[~invalid][None, :, :]
    return _cloud_msg(points, header, types, is_dense=not organized)


def _cloud_msg(points: np.ndarray, header: Any, types: MessageTypes, is_dense: bool) -> Any:
    """points: (height, width, 4) little-endian float32 x, y, z, rgb."""
    fields = [types.PointField(name=name, offset=4 * i, datatype=types.PointField.FLOAT32,
                               count=1) for i, name in enumerate(_FIELD_NAMES)]
    height, width = points.shape[:2]
    return types.PointCloud2(header=header, height=height, width=width, fields=fields,
                             is_bigendian=False, point_step=POINT_DTYPE.itemsize,
                             row_step=POINT_DTYPE.itemsize * width,
                             data=types.byte_array(points), is_dense=bool(is_dense))


_DATATYPES = {1: 'i1', 2: 'u1', 3: 'i2', 4: 'u2', 5: 'i4', 6: 'u4', 7: 'f4', 8: 'f8'}


def cloud_msg_to_arrays(msg: Any) -> CloudArrays:
    """PointCloud2 with float x, y, z (and optionally rgb) -> CloudArrays.

    Raises:
        ConversionError: missing x/y/z fields, unknown datatypes or too little data.
    """
    order = '>' if msg.is_bigendian else '<'
    formats = {}
    for f in msg.fields:
        if int(f.datatype) not in _DATATYPES:
            raise ConversionError(f'PointField {f.name!r} has unknown datatype {f.datatype}')
        formats[f.name] = (order + _DATATYPES[int(f.datatype)], int(f.offset))
    missing = [name for name in ('x', 'y', 'z') if name not in formats]
    if missing:
        raise ConversionError(f'PointCloud2 lacks field(s) {", ".join(missing)}')
    dtype = np.dtype({'names': list(formats), 'formats': [f for f, _ in formats.values()],
                      'offsets': [o for _, o in formats.values()],
                      'itemsize': int(msg.point_step)})
    height, width, row_step = int(msg.height), int(msg.width), int(msg.row_step)
    data = as_uint8(msg.data)
    if data.size < row_step * height or row_step < width * dtype.itemsize:
        raise ConversionError(f'PointCloud2 {width}x{height} (row_step {row_step}) has only '
                              f'{data.size} bytes')
    rows = data[:row_step * height].reshape(height, row_step)[:, :width * dtype.itemsize]
    points = np.ascontiguousarray(rows).view(dtype).reshape(height, width)
    xyz = np.stack([points[n].astype(np.float32) for n in ('x', 'y', 'z')], axis=-1)
    rgb = unpack_rgb(points['rgb'].astype('<f4')) if 'rgb' in formats else None
    return CloudArrays(xyz=xyz, rgb=rgb, organized=height > 1)
