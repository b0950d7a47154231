"""The mapping use case: an output bag -> ``mesh.ply``, ``points.ply``, ``map.png``, ``map.json``.

The bag is checked first (depth, CameraInfo, poses and, with ``apply_mask``, the dynamic mask
must be there), then Open3D is loaded, the voxel size is chosen (the scene's extent divided by
``voxels_across``, unless given) and the frames are fused one at a time. Files are written
into the folder given, which the caller stages (:func:`align3r_ros.bag.writer.staged`), so an
error leaves nothing half-written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import numpy as np

from align3r_ros.bag.reader import BagReader
from align3r_ros.errors import InputError
from align3r_ros.mapping.bag_source import MapTopics, OutputBagSource
from align3r_ros.mapping.frames import MapFrame
from align3r_ros.mapping.render import render_map_png
from align3r_ros.mapping.tsdf import (FusedMap, TsdfFusion, TsdfParams, require_open3d,
                                      scene_extent, write_ply)

MESH_FILE = 'mesh.ply'
POINTS_FILE = 'points.ply'
PNG_FILE = 'map.png'
SUMMARY_FILE = 'map.json'


@dataclass(frozen=True)
class MapOptions:
    """What ``align3r-map`` does (its command line; every default of the tool lives here).

    Attributes:
        voxel_size: voxel edge in the map's units; None: ``extent / voxels_across``.
        voxels_across: voxels along the scene's extent (1st-99th percentile box diagonal of
            the depth's points) when ``voxel_size`` is None.
        truncation_voxels: TSDF truncation distance, voxels.
        min_weight: observations (frames) a surface needs to be kept (Open3D's default, 3).
        apply_mask: leave the dynamic mask's pixels out (the bag's ``~/dynamic_mask/image``).
        topics: the topics read.
    """

    voxel_size: Optional[float] = None
    voxels_across: int = 256
    truncation_voxels: float = 4.0
    min_weight: float = 3.0
    apply_mask: bool = False
    topics: MapTopics = field(default_factory=MapTopics)


@dataclass(frozen=True)
class MapOutcome:
    """What one mapping run made.

    Attributes:
        fused: the map (points, normals, mesh).
        depth_images: depth images in the bag.
        skipped: reason -> frames left out.
        world_frame: the frame of the map's coordinates.
        extent: the scene's extent (map units) the voxel size was chosen from, or None.
        masked_fraction: fraction of the fused frames' valid depth pixels left out by the mask.
        stamps_ns: (N,) the fused frames' stamps.
        T_world_cam: (N, 4, 4) their camera poses.
        files: the files written, in the folder given.
    """

    fused: FusedMap
    depth_images: int
    skipped: Dict[str, int]
    world_frame: str
    extent: Optional[float]
    masked_fraction: float
    stamps_ns: np.ndarray
    T_world_cam: np.ndarray
    files: Tuple[Path, ...]

    def summary_line(self) -> str:
        fused = self.fused
        parts = [f'{fused.frames_fused} of {self.depth_images} depth images fused',
                 f'voxel {fused.params.voxel_size:.4g}',
                 f'{len(fused.points)} points, {len(fused.triangles)} triangles']
        if self.masked_fraction > 0:
            parts.append(f'{100 * self.masked_fraction:.1f} % of the depth masked as dynamic')
        if self.skipped:
            parts.append('skipped: ' + ', '.join(f'{n} ({reason})'
                                                 for reason, n in self.skipped.items()))
        return ', '.join(parts)


class _Counting:
    """Frames of a source, counting the valid depth pixels the mask takes out."""

    def __init__(self, frames: OutputBagSource, apply_mask: bool) -> None:
        self.frames = frames
        self.apply_mask = apply_mask
        self.valid = 0
        self.masked = 0

    def __iter__(self) -> Iterator[MapFrame]:
        for frame in self.frames:
            valid = np.isfinite(frame.depth)
            self.valid += int(valid.sum())
            if self.apply_mask and frame.dynamic_mask is not None:
                self.masked += int((valid & frame.dynamic_mask).sum())
            yield frame


def _no_frame_error(source: OutputBagSource, depth_images: int) -> InputError:
    if source.skipped:
        reason, count = max(source.skipped.items(), key=lambda item: item[1])
        why = f'most often: {reason} ({count} frames)'
    else:
        why = 'every depth image is empty after masking'
    return InputError(f'none of the {depth_images} depth images could be fused; {why}')


def build_map(bag: Path, folder: Path, options: MapOptions = MapOptions()) -> MapOutcome:
    """Fuse the bag's depth into a TSDF and write the map's files into ``folder`` (exists).

    Raises:
        BagError: the bag is missing, unreadable, or lacks depth, CameraInfo, poses (or the
            mask with ``apply_mask``).
        BackendError: Open3D is not installed (one line saying how).
        InputError: no frame could be fused, or the map came out empty.
    """
    with BagReader(bag) as reader:
        source = OutputBagSource(reader, options.topics, need_mask=options.apply_mask)
        scan = source.scan()
        depth_images = len(scan.depth_stamps_ns)
        require_open3d()
        extent = None
        voxel = options.voxel_size
        if voxel is None:
            try:
                extent = scene_extent(source, options.apply_mask)
            except InputError:
                raise _no_frame_error(source, depth_images) from None
            voxel = extent / options.voxels_across
        fusion = TsdfFusion(TsdfParams(voxel, options.truncation_voxels,
                                       options.min_weight), options.apply_mask)
        frames = _Counting(source, options.apply_mask)
        stamps, poses = [], []
        for frame in frames:
            if fusion.integrate(frame):
                stamps.append(frame.stamp_ns)
                poses.append(frame.T_world_cam)
        if not stamps:
            raise _no_frame_error(source, depth_images)
        fused = fusion.result()
        if len(fused.points) == 0 or len(fused.triangles) == 0:
            raise InputError(f'the map of {fused.frames_fused} frames is empty (voxel size '
                             f'{voxel:.4g} too large for the scene?)')
        outcome = MapOutcome(
            fused=fused, depth_images=depth_images, skipped=dict(source.skipped),
            world_frame=source.world_frame, extent=extent,
            masked_fraction=frames.masked / max(frames.valid, 1),
            stamps_ns=np.array(stamps, dtype=np.int64), T_world_cam=np.stack(poses),
            files=tuple(folder / name for name in (MESH_FILE, POINTS_FILE, PNG_FILE,
                                                    SUMMARY_FILE)))
    write_ply(fused, folder / MESH_FILE, folder / POINTS_FILE)
    render_map_png(folder / PNG_FILE, fused.points, fused.normals, outcome.T_world_cam,
                   f'{Path(bag).name}: {outcome.summary_line()}')
    (folder / SUMMARY_FILE).write_text(json.dumps(_summary(bag, outcome, options), indent=2)
                                       + '\n', encoding='utf-8')
    return outcome


def _summary(bag: Path, outcome: MapOutcome, options: MapOptions) -> dict:
    fused = outcome.fused
    return {'bag': str(bag), 'world_frame': outcome.world_frame,
            'depth_topic': options.topics.depth, 'apply_mask': options.apply_mask,
            'depth_images': outcome.depth_images, 'frames_fused': fused.frames_fused,
            'skipped': outcome.skipped, 'voxel_size': fused.params.voxel_size,
            'truncation': fused.params.sdf_trunc, 'extent': outcome.extent,
            'masked_fraction': outcome.masked_fraction, 'points': len(fused.points),
            'vertices': len(fused.vertices), 'triangles': len(fused.triangles),
            'files': [p.name for p in outcome.files]}
