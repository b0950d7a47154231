"""Dynamic masks from pairwise disagreement with the aligned static model.

No optical-flow network: after a solve, every frame's pixels are compared with what each pair
that sees them predicts (``alignment_residuals``, relative 3-D disagreement). Static pixels agree
to the noise level of the predictions; pixels of moving objects cannot agree with one rigid
world, so their residual stands out. Masked pixels are down-weighted (``dynamic.weight``) in a
re-solve, so they no longer drag poses and pair scales.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


def detect_dynamic(residuals: np.ndarray, confidence: np.ndarray, threshold: float,
                   min_confidence: float = 1.0) -> np.ndarray:
    """(N, h, w) bool: residual above ``threshold`` on pixels with any confidence.

    A one-pixel opening removes isolated noise hits (a pixel alone is not an object), keeping
    the masks of objects a few pixels wide.

    Args:
        residuals: (N, h, w) relative disagreement (NaN where undefined).
        confidence: (N, h, w) aligned confidence (pixels at or below ``min_confidence`` have no
            valid prediction and are never called dynamic).
        threshold: ``dynamic.threshold``.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    with np.errstate(invalid='ignore'):
        raw = np.isfinite(residuals) & (residuals > threshold) & (confidence > min_confidence)
    structure = np.zeros((1, 3, 3), dtype=bool)
    structure[0, 1, :] = True
    structure[0, :, 1] = True
    return ndimage.binary_opening(raw, structure=structure)


def detect_dynamic_torch(residual: torch.Tensor, confidence: torch.Tensor,
                         threshold: float) -> torch.Tensor:
    """(h, w) bool: the rule of :func:`detect_dynamic` for one frame, in torch on its device.

    Residual above ``threshold`` on pixels with confidence > 1, then the same one-pixel
    opening with a cross (the outside of the image counts as background).
    """
    raw = torch.isfinite(residual) & (residual > threshold) & (confidence > 1.0)
    cross = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]],
                         device=residual.device)[None, None]
    eroded = F.conv2d(raw.float()[None, None], cross, padding=1) >= 5.0 - 1e-3
    dilated = F.conv2d(eroded.float(), cross, padding=1) > 0.5
    return dilated[0, 0] & raw


def dynamic_pixel_weights(mask: np.ndarray, weight: float) -> np.ndarray:
    """(N, h, w) float32 pixel weights: ``weight`` on dynamic pixels, 1 elsewhere."""
    return np.where(mask, np.float32(weight), np.float32(1.0)).astype(np.float32)


def mask_precision_recall(predicted: np.ndarray, truth: np.ndarray) -> tuple:
    """(precision, recall) of a predicted mask against a ground-truth one (NaN when undefined)."""
    predicted = np.asarray(predicted, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    hits = float(np.sum(predicted & truth))
    precision = hits / predicted.sum() if predicted.any() else float('nan')
    recall = hits / truth.sum() if truth.any() else float('nan')
    return precision, recall
