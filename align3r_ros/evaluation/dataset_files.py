"""Readers (and the few writers tests need) of the benchmark datasets' file formats.

* TUM trajectories: ``timestamp tx ty tz qx qy qz qw`` per line, seconds and metres,
  camera-to-world (TUM RGB-D, Bonn, 7-Scenes ``groundtruth_tum.txt``); also written here
  (``align3r-replay --trajectory``, ``align3r-eval --trajectory``).
* TUM file lists: ``timestamp path`` per line (``rgb.txt``, ``depth.txt``).
* Sintel ``.dpt`` depth (tag 202021.25, width, height, float32 rows) and ``.cam`` cameras (tag,
  3×3 intrinsics, 3×4 world-to-camera extrinsics, float64).
* 16-bit depth PNGs with a depth scale (7-Scenes: 1000 per metre, TUM/Bonn: 5000 per metre).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import numpy as np

from align3r_ros.errors import InputError
from align3r_ros.geometry.quaternion import (matrix_to_quaternion, orthonormalise_rotation,
                                             quaternion_to_matrix)

SINTEL_TAG = 202021.25


@dataclass(frozen=True)
class Trajectory:
    """Stamped camera-to-world poses.

    Attributes:
        stamps_ns: (N,) int64 nanoseconds.
        T_world_cam: (N, 4, 4) float64 camera-to-world, metres.
    """

    stamps_ns: np.ndarray
    T_world_cam: np.ndarray

    def __len__(self) -> int:
        return int(self.stamps_ns.shape[0])


def seconds_to_ns(seconds) -> np.ndarray:
    """Seconds (float or decimal strings) to int64 nanoseconds, rounded."""
    return np.round(np.asarray(seconds, dtype=np.float64) * 1e9).astype(np.int64)


def _data_lines(path: Path) -> List[List[str]]:
    try:
        text = Path(path).read_text(encoding='utf-8')
    except FileNotFoundError:
        raise InputError(f'file not found: {path}') from None
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            rows.append(line.replace(',', ' ').split())
    return rows


def poses_from_tum_rows(values: np.ndarray) -> np.ndarray:
    """(N, 7) ``tx ty tz qx qy qz qw`` to (N, 4, 4) poses (quaternions normalised).

    Raises:
        InputError: a zero or non-finite quaternion.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1, 7)
    T = np.tile(np.eye(4), (values.shape[0], 1, 1))
    if values.shape[0]:
        T[:, :3, :3] = quaternion_to_matrix(values[:, 3:7])
    T[:, :3, 3] = values[:, :3]
    return T


def read_tum_trajectory(path: Path) -> Trajectory:
    """Read a TUM-format trajectory file (camera-to-world)."""
    rows = _data_lines(path)
    bad = [r for r in rows if len(r) != 8]
    if bad:
        raise InputError(f'{path}: expected 8 columns (timestamp tx ty tz qx qy qz qw), '
                         f'got {len(bad[0])} in {" ".join(bad[0])!r}')
    if not rows:
        return Trajectory(np.zeros(0, np.int64), np.zeros((0, 4, 4)))
    values = np.array(rows, dtype=np.float64)
    return Trajectory(seconds_to_ns(values[:, 0]), poses_from_tum_rows(values[:, 1:]))


def format_stamp_s(stamp_ns: int) -> str:
    """Integer nanoseconds as exact decimal seconds, ``SSSS.NNNNNNNNN`` (no float rounding)."""
    stamp_ns = int(stamp_ns)
    sign, stamp_ns = ('-', -stamp_ns) if stamp_ns < 0 else ('', stamp_ns)
    seconds, nanoseconds = divmod(stamp_ns, 1_000_000_000)
    return f'{sign}{seconds}.{nanoseconds:09d}'


def tum_trajectory_text(trajectory: Trajectory) -> str:
    """A TUM trajectory file's text: a ``#`` header line, then ``stamp tx ty tz qx qy qz qw``
    per pose (stamp in seconds, exact; camera-to-world; quaternion xyzw with w >= 0, 17
    significant digits: the poses read back bit for bit).

    Raises:
        InputError: poses that are not (N, 4, 4) finite transforms matching the stamps.
    """
    T = np.asarray(trajectory.T_world_cam, dtype=np.float64)
    stamps = np.asarray(trajectory.stamps_ns).reshape(-1)
    if T.shape != (stamps.shape[0], 4, 4) or not np.all(np.isfinite(T)):
        raise InputError(f'a TUM trajectory needs (N, 4, 4) finite poses for N stamps, got '
                         f'{T.shape} for {stamps.shape[0]}')
    lines = ['# timestamp tx ty tz qx qy qz qw']
    if len(stamps):
        quaternions = matrix_to_quaternion(orthonormalise_rotation(T[:, :3, :3]))
        for stamp, t, q in zip(stamps, T[:, :3, 3], quaternions):
            lines.append(' '.join([format_stamp_s(int(stamp))] +
                                  [f'{v:.17g}' for v in (*t, *q)]))
    return '\n'.join(lines) + '\n'


def write_tum_trajectory(path: Path, trajectory: Trajectory) -> None:
    """Write ``trajectory`` as a TUM file (:func:`tum_trajectory_text`; what
    :func:`read_tum_trajectory` and ``evo`` read)."""
    Path(path).write_text(tum_trajectory_text(trajectory), encoding='utf-8')


def read_tum_file_list(path: Path) -> Tuple[np.ndarray, List[str]]:
    """Read ``rgb.txt`` / ``depth.txt``: (stamps_ns (N,), relative paths)."""
    rows = _data_lines(path)
    if any(len(r) < 2 for r in rows):
        raise InputError(f'{path}: expected "timestamp path" per line')
    return seconds_to_ns([r[0] for r in rows]), [r[1] for r in rows]


def read_depth_png(path: Path, units_per_metre: float, invalid_values=(0,)) -> np.ndarray:
    """(H, W) float32 metres from a 16-bit PNG; invalid values become NaN."""
    import cv2

    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise InputError(f'cannot read depth image {path}')
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise InputError(f'{path}: expected a single-channel 16-bit PNG, got {raw.dtype} '
                         f'{raw.shape}')
    depth = raw.astype(np.float32) / np.float32(units_per_metre)
    depth[np.isin(raw, np.asarray(invalid_values, dtype=np.uint16))] = np.nan
    return depth


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a colour image file."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f'cannot read image {path}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _check_tag(path: Path, tag: float) -> None:
    if not np.isclose(tag, SINTEL_TAG):
        raise InputError(f'{path}: wrong tag {tag} (expected {SINTEL_TAG}; not a Sintel file '
                         f'or wrong endianness)')


def read_dpt(path: Path) -> np.ndarray:
    """(H, W) float32 depth of a Sintel ``.dpt`` file (metres-like scene units)."""
    data = Path(path).read_bytes()
    if len(data) < 12:
        raise InputError(f'{path}: truncated .dpt header ({len(data)} bytes)')
    _check_tag(path, float(np.frombuffer(data, '<f4', 1, 0)[0]))
    width, height = (int(v) for v in np.frombuffer(data, '<i4', 2, 4))
    if width <= 0 or height <= 0 or len(data) < 12 + 4 * width * height:
        raise InputError(f'{path}: bad or truncated .dpt ({width}x{height}, {len(data)} bytes)')
    return np.frombuffer(data, '<f4', width * height, 12).reshape(height, width).copy()


def write_dpt(path: Path, depth: np.ndarray) -> None:
    """Write (H, W) depth as a Sintel ``.dpt`` file."""
    depth = np.asarray(depth, dtype='<f4')
    header = np.array([SINTEL_TAG], '<f4').tobytes() + \
        np.array([depth.shape[1], depth.shape[0]], '<i4').tobytes()
    Path(path).write_bytes(header + depth.tobytes())


def read_cam(path: Path) -> Tuple[np.ndarray, np.ndarray]:
    """Sintel ``.cam``: (K (3, 3), T_cam_world (4, 4) world-to-camera), float64."""
    data = Path(path).read_bytes()
    if len(data) < 4 + 8 * 21:
        raise InputError(f'{path}: truncated .cam file ({len(data)} bytes)')
    _check_tag(path, float(np.frombuffer(data, '<f4', 1, 0)[0]))
    K = np.frombuffer(data, '<f8', 9, 4).reshape(3, 3).copy()
    T_cam_world = np.eye(4)
    T_cam_world[:3, :] = np.frombuffer(data, '<f8', 12, 4 + 72).reshape(3, 4)
    return K, T_cam_world


def write_cam(path: Path, K: np.ndarray, T_cam_world: np.ndarray) -> None:
    """Write a Sintel ``.cam`` file."""
    payload = np.array([SINTEL_TAG], '<f4').tobytes() + \
        np.asarray(K, '<f8').reshape(9).tobytes() + \
        np.asarray(T_cam_world, '<f8')[:3, :].reshape(12).tobytes()
    Path(path).write_bytes(payload)
