"""Protocols every backend implements, and the network-resolution view they consume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from align3r_ros.config import PriorKind
from align3r_ros.structures import PairPredictions, PriorMap


@dataclass(frozen=True)
class ViewTruth:
    """Ground truth of one view at network resolution, for the oracle backend only.

    Network backends never read it; the frame preparer fills it only for frames that carry
    ground truth (replay and evaluation), so a live camera's views hold none.

    Attributes:
        depth: (h, w) float32 metres along the optical axis, NaN where invalid; or None.
        T_world_cam: (4, 4) float64 camera-to-world; or None.
        dynamic_mask: (h, w) bool, True on moving objects; or None.
    """

    depth: Optional[np.ndarray] = None
    T_world_cam: Optional[np.ndarray] = None
    dynamic_mask: Optional[np.ndarray] = None


@dataclass(frozen=True)
class NetworkView:
    """One frame prepared at network resolution (h, w both multiples of 16).

    Attributes:
        key: unique id of the frame for the per-frame encoder cache (e.g. its stamp_ns).
        image: (3, h, w) float32 RGB normalised to [-1, 1].
        pointmap: (h, w, 3) float32 normalised monocular point map (spec §2.3), or None when
            the pairwise network takes no prior (plain DUSt3R) or none is available.
        K: (3, 3) intrinsics at (h, w) when known, else None.
        truth: ground truth for the oracle backend (:class:`ViewTruth`); None when the frame
            has none.
    """

    key: int
    image: np.ndarray
    pointmap: Optional[np.ndarray] = None
    K: Optional[np.ndarray] = None
    truth: Optional[ViewTruth] = None

    @property
    def shape(self) -> tuple:
        """(h, w)."""
        return tuple(self.image.shape[1:])


@runtime_checkable
class PairwiseBackend(Protocol):
    """Predicts pairwise point maps; implementations cache per-frame encodings by ``view.key``."""

    #: True when views must carry a point map (Align3R); False for DUSt3R and the oracle.
    needs_pointmap: bool

    def predict(self, views: Sequence[NetworkView], edges: np.ndarray) -> PairPredictions:
        """Point maps for each directed edge (i, j) of ``edges`` (E, 2) int64 into ``views``.

        All views of one call share one (h, w). Raises InputError on mismatched sizes.
        """
        ...

    def forget(self, keys: Sequence[int]) -> None:
        """Drop cached encodings of these frames (the engine calls it when frames leave)."""
        ...


@runtime_checkable
class PriorBackend(Protocol):
    """Monocular depth prior: RGB (and intrinsics when known) in, prior map out."""

    kind: PriorKind

    def estimate(self, rgb: np.ndarray, K: Optional[np.ndarray] = None) -> PriorMap:
        """Prior for one frame.

        Args:
            rgb: (H, W, 3) uint8 RGB.
            K: (3, 3) intrinsics at (H, W) when known (Depth Pro then uses fx as its focal).

        Returns:
            PriorMap at (H, W), finite everywhere.
        """
        ...
