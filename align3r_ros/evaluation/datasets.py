"""Benchmark datasets in their official layouts, read into :class:`structures.Frame` lists.

* TUM RGB-D and Bonn RGB-D Dynamic: ``<seq>/rgb.txt``, ``depth.txt`` (16-bit PNG, 5000 per
  metre, 0 invalid), ``groundtruth.txt`` (TUM trajectory); colour and depth associated one-to-one
  by stamp (≤ 20 ms, as TUM's ``associate.py``), poses by the nearest stamp (≤ 20 ms).
* MPI Sintel: ``training/{final,clean}/<seq>/frame_XXXX.png``, ``training/depth/<seq>/*.dpt``,
  ``training/camdata_left/<seq>/*.cam`` (world-to-camera, inverted here).
* 7-Scenes: ``<seq>/frame-XXXXXX.color.{png,jpg}``, ``.depth.png`` (millimetres; 0 and 65535
  invalid), ``.pose.txt`` (camera-to-world 4×4), files either side by side or in ``color/``,
  ``depth/`` and ``pose/`` folders (``../shared/data/7scenes_redkitchen``); intrinsics from a
  ``camera-intrinsics.txt`` beside or above the frames, else the nominal fx = fy = 585,
  cx = 320, cy = 240.

Protocols (spec §7.1): Bonn frames 30–139 (110), TUM frames 30–79 (50), Sintel all frames (≤ 50),
7-Scenes all; depth cap 70 m. Deviation: the official pose evaluation pairs TUM/Bonn frames with
``groundtruth.txt`` lines by index; here poses are associated by stamp, which is what the stamps
mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from align3r_ros.config import StrEnum
from align3r_ros.errors import InputError
from align3r_ros.evaluation import dataset_files as files
from align3r_ros.streams.association import NO_MATCH, associate_nearest, associate_one_to_one
from align3r_ros.geometry.camera import intrinsics_matrix
from align3r_ros.geometry.se3 import invert_transform
from align3r_ros.structures import Frame

TUM_MAX_DIFFERENCE_NS = 20_000_000
SEVEN_SCENES_K = intrinsics_matrix(585.0, 585.0, 320.0, 240.0)
SEVEN_SCENES_FPS = 30.0
SINTEL_FPS = 24.0
# Published intrinsics of the TUM RGB-D cameras and of the Bonn dataset's camera.
TUM_K = {'freiburg1': (517.3, 516.5, 318.6, 255.3), 'freiburg2': (520.9, 521.0, 325.1, 249.7),
         'freiburg3': (535.4, 539.2, 320.1, 247.6)}
BONN_K = (542.822841, 542.576870, 315.593520, 237.756098)


class DatasetKind(StrEnum):
    TUM = 'tum'
    BONN = 'bonn'
    SINTEL = 'sintel'
    SEVEN_SCENES = '7scenes'


@dataclass(frozen=True)
class Protocol:
    """Which frames of a sequence are evaluated and the depth cap (metres)."""

    start: int
    frames: int          # 0: all from start
    depth_max: float = 70.0


PROTOCOLS = {
    DatasetKind.TUM: Protocol(start=30, frames=50),
    DatasetKind.BONN: Protocol(start=30, frames=110),
    DatasetKind.SINTEL: Protocol(start=0, frames=50),
    DatasetKind.SEVEN_SCENES: Protocol(start=0, frames=0),
}


@dataclass(frozen=True)
class SequenceData:
    """One loaded sequence: its name and frames with ground truth (``gt_depth`` metres, NaN
    invalid; ``gt_T_world_cam`` camera-to-world, None where no pose associated)."""

    name: str
    frames: Tuple[Frame, ...]
    warnings: Tuple[str, ...] = ()


def _select(n: int, start: int, frames: int, stride: int) -> range:
    stop = n if frames <= 0 else min(n, start + frames * stride)
    return range(min(start, n), stop, stride)


def list_sequences(kind: DatasetKind, root: Path) -> List[Path]:
    """Sequence folders of a dataset root (or the root itself when it is one sequence)."""
    kind = DatasetKind(kind)
    root = Path(root)
    if not root.is_dir():
        raise InputError(f'dataset root {root} is not a directory')
    if kind in (DatasetKind.TUM, DatasetKind.BONN):
        found = sorted(p.parent for p in root.glob('**/rgb.txt'))
    elif kind is DatasetKind.SINTEL:
        base = root / 'training' if (root / 'training').is_dir() else root
        passes = [base / name for name in ('final', 'clean') if (base / name).is_dir()]
        found = sorted(p for p in passes[0].iterdir() if p.is_dir()) if passes else []
    else:
        found = sorted({_seven_scenes_folder(p) for p in root.glob('**/frame-*.color.*')})
    if not found:
        raise InputError(f'no {kind.value} sequence found under {root}')
    return found


def load_sequence(kind: DatasetKind, path: Path, start: Optional[int] = None,
                  frames: Optional[int] = None, stride: int = 1) -> SequenceData:
    """Read one sequence with its ground truth (the protocol's frames unless overridden)."""
    kind = DatasetKind(kind)
    protocol = PROTOCOLS[kind]
    start = protocol.start if start is None else start
    frames = protocol.frames if frames is None else frames
    if stride < 1 or start < 0:
        raise InputError(f'bad frame selection start={start} stride={stride}')
    path = Path(path)
    if kind in (DatasetKind.TUM, DatasetKind.BONN):
        return _load_tum_like(kind, path, start, frames, stride)
    if kind is DatasetKind.SINTEL:
        return _load_sintel(path, start, frames, stride)
    return _load_seven_scenes(path, start, frames, stride)


def _tum_intrinsics(kind: DatasetKind, path: Path) -> Optional[np.ndarray]:
    if kind is DatasetKind.BONN:
        return intrinsics_matrix(*BONN_K)
    for key, values in TUM_K.items():
        if key in path.name or key.replace('freiburg', 'fr') in path.name:
            return intrinsics_matrix(*values)
    return None


def _load_tum_like(kind: DatasetKind, path: Path, start: int, frames: int,
                   stride: int) -> SequenceData:
    rgb_ns, rgb_files = files.read_tum_file_list(path / 'rgb.txt')
    depth_ns, depth_files = files.read_tum_file_list(path / 'depth.txt')
    to_depth = associate_one_to_one(rgb_ns, depth_ns, TUM_MAX_DIFFERENCE_NS)
    keep = np.flatnonzero(to_depth != NO_MATCH)
    warnings = []
    if keep.size < rgb_ns.size:
        warnings.append(f'{rgb_ns.size - keep.size} colour frames had no depth within 20 ms')
    gt_file = path / 'groundtruth.txt'
    trajectory = files.read_tum_trajectory(gt_file) if gt_file.is_file() else None
    K = _tum_intrinsics(kind, path)
    out = []
    for k in _select(keep.size, start, frames, stride):
        i = keep[k]
        T = None
        if trajectory is not None:
            j = associate_nearest([rgb_ns[i]], trajectory.stamps_ns, TUM_MAX_DIFFERENCE_NS)[0]
            T = trajectory.T_world_cam[j] if j != NO_MATCH else None
        out.append(Frame(stamp_ns=int(rgb_ns[i]), rgb=files.read_rgb(path / rgb_files[i]), K=K,
                         gt_depth=files.read_depth_png(path / depth_files[to_depth[i]], 5000.0),
                         gt_T_world_cam=T))
    missing = sum(f.gt_T_world_cam is None for f in out)
    if missing:
        warnings.append(f'{missing} frames had no ground-truth pose within 20 ms')
    return SequenceData(path.name, tuple(out), tuple(warnings))


def _frame_number(path: Path) -> int:
    match = re.search(r'(\d+)', path.name)
    if match is None:
        raise InputError(f'no frame number in {path.name}')
    return int(match.group(1))


def _load_sintel(path: Path, start: int, frames: int, stride: int) -> SequenceData:
    seq = path.name
    base = path.parent.parent  # training/
    images = sorted(path.glob('frame_*.png'), key=_frame_number)
    out = []
    for k in _select(len(images), start, frames, stride):
        image = images[k]
        number = _frame_number(image)
        depth = files.read_dpt(base / 'depth' / seq / f'{image.stem}.dpt')
        K, T_cam_world = files.read_cam(base / 'camdata_left' / seq / f'{image.stem}.cam')
        out.append(Frame(stamp_ns=int(round((number - 1) * 1e9 / SINTEL_FPS)),
                         rgb=files.read_rgb(image), K=K, gt_depth=depth,
                         gt_T_world_cam=invert_transform(T_cam_world)))
    if not out:
        raise InputError(f'no Sintel frame_*.png in {path}')
    return SequenceData(seq, tuple(out))


def _seven_scenes_folder(colour_file: Path) -> Path:
    return colour_file.parent.parent if colour_file.parent.name == 'color' else colour_file.parent


def _seven_scenes_file(path: Path, folder: str, name: str) -> Path:
    nested = path / folder / name
    return nested if nested.is_file() else path / name


def _seven_scenes_intrinsics(path: Path) -> np.ndarray:
    for folder in (path, path.parent, path.parent.parent):
        candidate = folder / 'camera-intrinsics.txt'
        if candidate.is_file():
            K = np.loadtxt(candidate, dtype=np.float64)
            if K.shape != (3, 3):
                raise InputError(f'{candidate}: expected a 3x3 matrix, got {K.shape}')
            return K
    return SEVEN_SCENES_K.copy()


def _load_seven_scenes(path: Path, start: int, frames: int, stride: int) -> SequenceData:
    colour = sorted(list(path.glob('frame-*.color.*')) + list(path.glob('color/frame-*.color.*')),
                    key=_frame_number)
    if not colour:
        raise InputError(f'no 7-Scenes frame-XXXXXX.color.* in {path}')
    K = _seven_scenes_intrinsics(path)
    out = []
    for k in _select(len(colour), start, frames, stride):
        image = colour[k]
        stem = image.name.split('.')[0]  # frame-000123
        T = np.loadtxt(_seven_scenes_file(path, 'pose', f'{stem}.pose.txt'), dtype=np.float64)
        if T.shape != (4, 4):
            raise InputError(f'{stem}.pose.txt: expected a 4x4 matrix, got {T.shape}')
        depth = files.read_depth_png(_seven_scenes_file(path, 'depth', f'{stem}.depth.png'),
                                     1000.0, invalid_values=(0, 65535))
        out.append(Frame(stamp_ns=int(round(_frame_number(image) * 1e9 / SEVEN_SCENES_FPS)),
                         rgb=files.read_rgb(image), K=K, gt_depth=depth, gt_T_world_cam=T))
    return SequenceData(path.name, tuple(out))
