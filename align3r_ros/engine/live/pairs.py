"""One pair's point maps, in one order everywhere in live mode.

A pair (i, j) of the pairwise network gives, in camera i's frame and at the pair's own scale,
view i's points and view j's points with their confidences. Tracking holds them as torch
tensors on the aligner's device (full network resolution); the window refinement's cache holds
them as numpy arrays subsampled to its pixel budget. Both are a :class:`PairMaps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from align3r_ros.structures import PairPredictions


@dataclass(frozen=True)
class PairMaps:
    """The maps of one directed pair (i, j) (torch tensors or numpy arrays, never mixed).

    Attributes:
        pts_i: (h, w, 3) view i's points in camera i's frame, pair units.
        conf_i: (h, w) their confidence (>= 1).
        pts_j: (h, w, 3) view j's points in camera i's frame, pair units.
        conf_j: (h, w) their confidence (>= 1).
    """

    pts_i: Any
    conf_i: Any
    pts_j: Any
    conf_j: Any

    @staticmethod
    def of_edge(predictions: PairPredictions, edge: int) -> 'PairMaps':
        """Edge ``edge`` of a backend's predictions (numpy, full resolution)."""
        return PairMaps(predictions.pts_i[edge], predictions.conf_i[edge],
                        predictions.pts_j[edge], predictions.conf_j[edge])

    def to_device(self, device: torch.device) -> 'PairMaps':
        """The same maps as torch tensors on ``device``."""
        return PairMaps(*(torch.as_tensor(a, device=device) for a in self._fields()))

    def subsampled(self, stride: int) -> 'PairMaps':
        """Every ``stride``-th pixel in both axes, contiguous numpy arrays."""
        s = slice(None, None, stride)
        return PairMaps(*(np.ascontiguousarray(a[s, s]) for a in self._fields()))

    def _fields(self) -> tuple:
        return self.pts_i, self.conf_i, self.pts_j, self.conf_j


def stack_predictions(edges: Sequence[tuple], maps: Sequence[PairMaps]) -> PairPredictions:
    """Numpy ``PairMaps`` of the given (i, j) edges as one :class:`PairPredictions`."""
    return PairPredictions(edges=np.asarray(edges, np.int64),
                           pts_i=np.stack([m.pts_i for m in maps]),
                           pts_j=np.stack([m.pts_j for m in maps]),
                           conf_i=np.stack([m.conf_i for m in maps]),
                           conf_j=np.stack([m.conf_j for m in maps]))
