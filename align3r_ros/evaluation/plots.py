"""Report figures as PNG files (matplotlib's Agg canvas: no display, no global backend switch).

* ``trajectory.png``: top view of the estimate after Sim(3) alignment against the ground truth,
  on the two axes along which the ground truth moves most.
* ``errors.png``: position error after Sim(3) and per-frame Abs Rel over time.
* ``depth_strip.png``: RGB / predicted depth (aligned) / ground-truth depth / relative error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from align3r_ros.evaluation.collector import StripSample

AXIS_NAMES = 'xyz'


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def top_view_axes(positions: np.ndarray) -> tuple:
    """Indices (a, b) of the two axes with the largest spread of (N, 3) positions, a < b."""
    order = np.argsort(np.var(positions, axis=0))[::-1]
    return tuple(sorted(int(i) for i in order[:2]))


def plot_trajectory(path: Path, T_world_cam_gt: np.ndarray,
                    T_world_cam_est_aligned: np.ndarray, title: str = '') -> Path:
    """Top view of both trajectories (metres of the ground truth); returns ``path``."""
    gt = np.asarray(T_world_cam_gt)[:, :3, 3]
    est = np.asarray(T_world_cam_est_aligned)[:, :3, 3]
    a, b = top_view_axes(gt)
    figure = _figure(6.0, 6.0)
    ax = figure.add_subplot(1, 1, 1)
    ax.plot(gt[:, a], gt[:, b], '--', color='0.4', label='ground truth')
    ax.plot(est[:, a], est[:, b], '-', color='tab:blue', label='estimate (Sim(3)-aligned)')
    ax.plot(gt[:1, a], gt[:1, b], 'o', color='0.4')
    ax.plot(est[:1, a], est[:1, b], 'o', color='tab:blue')
    ax.set_xlabel(f'{AXIS_NAMES[a]} [m]')
    ax.set_ylabel(f'{AXIS_NAMES[b]} [m]')
    ax.set_aspect('equal', adjustable='datalim')
    ax.grid(True, alpha=0.3)
    ax.legend(loc='best')
    ax.set_title(title or 'trajectory, top view')
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)


def plot_errors(path: Path, pose_stamps_ns: np.ndarray, position_errors: np.ndarray,
                depth_stamps_ns: np.ndarray, abs_rel: np.ndarray) -> Path:
    """Position error (m) and per-frame Abs Rel against time since the first frame (s)."""
    stamps = [s for s in (pose_stamps_ns, depth_stamps_ns) if len(s)]
    t0 = min(int(s[0]) for s in stamps) if stamps else 0
    rows = int(len(position_errors) > 0) + int(len(abs_rel) > 0)
    figure = _figure(8.0, 2.6 * max(rows, 1))
    row = 1
    if len(position_errors):
        ax = figure.add_subplot(max(rows, 1), 1, row)
        ax.plot((np.asarray(pose_stamps_ns) - t0) / 1e9, position_errors, color='tab:blue')
        ax.set_ylabel('position error [m]')
        ax.set_xlabel('time [s]')
        ax.grid(True, alpha=0.3)
        row += 1
    if len(abs_rel):
        ax = figure.add_subplot(max(rows, 1), 1, row)
        ax.plot((np.asarray(depth_stamps_ns) - t0) / 1e9, abs_rel, '.-', color='tab:red')
        ax.set_ylabel('depth Abs Rel')
        ax.set_xlabel('time [s]')
        ax.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)


def plot_depth_strip(path: Path, samples: Sequence[StripSample]) -> Path:
    """One row per sample: RGB, aligned prediction, ground truth (shared colour range), and the
    relative error |pred − gt| / gt (0 to 0.25)."""
    samples = list(samples)
    figure = _figure(12.0, 2.6 * max(len(samples), 1))
    finite = [s.gt_depth[np.isfinite(s.gt_depth)] for s in samples]
    values = np.concatenate(finite) if finite else np.zeros(0)
    vmin, vmax = (np.percentile(values, [2, 98]) if values.size else (0.0, 1.0))
    for row, sample in enumerate(samples):
        with np.errstate(invalid='ignore', divide='ignore'):
            error = np.abs(sample.depth_aligned - sample.gt_depth) / sample.gt_depth
        panels = ((sample.rgb, 'RGB', {}),
                  (sample.depth_aligned, 'predicted depth', dict(cmap='turbo', vmin=vmin,
                                                                 vmax=vmax)),
                  (sample.gt_depth, 'ground-truth depth', dict(cmap='turbo', vmin=vmin,
                                                               vmax=vmax)),
                  (error, 'relative error', dict(cmap='magma', vmin=0.0, vmax=0.25)))
        for col, (image, title, style) in enumerate(panels):
            ax = figure.add_subplot(len(samples), 4, row * 4 + col + 1)
            shown = ax.imshow(image, interpolation='nearest', **style)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f'{title}' + (f'  t={sample.stamp_ns / 1e9:.2f}s' if col == 0 else ''),
                         fontsize=8)
            if col:
                figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)
