"""Association of stamped streams (images with ground-truth depth or poses).

Stamps are integer nanoseconds. ``associate_nearest`` lets several queries share one reference
(poses recorded faster than images); ``associate_one_to_one`` is the greedy matching of the TUM
RGB-D tool ``associate.py`` (pairs taken in order of increasing time difference, each stamp used
at most once), used for colour/depth lists.
"""

from __future__ import annotations

import numpy as np

from align3r_ros.errors import InputError

NO_MATCH = -1


def _as_stamps(stamps_ns) -> np.ndarray:
    return np.asarray(stamps_ns, dtype=np.int64).reshape(-1)


def associate_nearest(query_ns, reference_ns, max_difference_ns: int) -> np.ndarray:
    """For each query stamp, the index of the nearest reference stamp.

    Args:
        query_ns: (Q,) integer nanoseconds (any order).
        reference_ns: (R,) integer nanoseconds (any order).
        max_difference_ns: largest accepted |query − reference|.

    Returns:
        (Q,) int64 indices into ``reference_ns``; ``NO_MATCH`` (-1) where none is close enough.
    """
    query = _as_stamps(query_ns)
    reference = _as_stamps(reference_ns)
    if max_difference_ns < 0:
        raise InputError(f'max_difference_ns must be >= 0, got {max_difference_ns}')
    result = np.full(query.shape[0], NO_MATCH, dtype=np.int64)
    if reference.size == 0 or query.size == 0:
        return result
    order = np.argsort(reference, kind='stable')
    sorted_ref = reference[order]
    right = np.clip(np.searchsorted(sorted_ref, query), 0, sorted_ref.size - 1)
    left = np.clip(right - 1, 0, sorted_ref.size - 1)
    d_left = np.abs(query - sorted_ref[left])
    d_right = np.abs(query - sorted_ref[right])
    best = np.where(d_left <= d_right, left, right)
    best_diff = np.minimum(d_left, d_right)
    ok = best_diff <= max_difference_ns
    result[ok] = order[best[ok]]
    return result


def associate_one_to_one(query_ns, reference_ns, max_difference_ns: int) -> np.ndarray:
    """Greedy one-to-one matching by increasing |difference| (TUM ``associate.py``).

    Returns:
        (Q,) int64 indices into ``reference_ns``; ``NO_MATCH`` (-1) for unmatched queries.
    """
    query = _as_stamps(query_ns)
    reference = _as_stamps(reference_ns)
    result = np.full(query.shape[0], NO_MATCH, dtype=np.int64)
    if reference.size == 0 or query.size == 0:
        return result
    order = np.argsort(reference, kind='stable')
    sorted_ref = reference[order]
    # Candidates: for each query the references within the window (bounded by searchsorted).
    lo = np.searchsorted(sorted_ref, query - max_difference_ns, side='left')
    hi = np.searchsorted(sorted_ref, query + max_difference_ns, side='right')
    q_idx = np.repeat(np.arange(query.size), hi - lo)
    r_pos = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)]) if q_idx.size else \
        np.zeros(0, dtype=np.int64)
    diffs = np.abs(query[q_idx] - sorted_ref[r_pos])
    used_ref = np.zeros(sorted_ref.size, dtype=bool)
    for k in np.lexsort((r_pos, q_idx, diffs)):
        q, r = q_idx[k], r_pos[k]
        if result[q] == NO_MATCH and not used_ref[r]:
            result[q] = order[r]
            used_ref[r] = True
    return result


def interpolate_poses(query_ns, reference_ns, T_world_cam: np.ndarray,
                      max_gap_ns: int) -> tuple:
    """Camera-to-world poses at the query stamps, interpolated between bracketing references.

    Translation is interpolated linearly, rotation by slerp. A query outside the references, or
    whose bracketing references are further apart than ``max_gap_ns``, gets no pose unless a
    reference lies within ``max_gap_ns / 2`` of it (then that pose is used as it is).

    Args:
        query_ns: (Q,) integer nanoseconds.
        reference_ns: (R,) integer nanoseconds, strictly increasing.
        T_world_cam: (R, 4, 4) poses at ``reference_ns``.
        max_gap_ns: largest reference spacing bridged by interpolation.

    Returns:
        (poses (Q, 4, 4) float64 (NaN where none), found (Q,) bool).
    """
    from scipy.spatial.transform import Rotation, Slerp

    query = _as_stamps(query_ns)
    reference = _as_stamps(reference_ns)
    T = np.asarray(T_world_cam, dtype=np.float64)
    if T.shape != (reference.size, 4, 4):
        raise InputError(f'poses {T.shape} do not match {reference.size} stamps')
    if reference.size > 1 and np.any(np.diff(reference) <= 0):
        raise InputError('reference stamps must be strictly increasing')
    out = np.full((query.size, 4, 4), np.nan)
    found = np.zeros(query.size, dtype=bool)
    if reference.size == 0:
        return out, found
    nearest = associate_nearest(query, reference, max_gap_ns // 2)
    has_nearest = nearest != NO_MATCH
    out[has_nearest] = T[nearest[has_nearest]]
    found |= has_nearest
    if reference.size < 2:
        return out, found
    right = np.searchsorted(reference, query, side='left')
    inside = (right > 0) & (right < reference.size)
    left = np.clip(right - 1, 0, reference.size - 1)
    right = np.clip(right, 0, reference.size - 1)
    bridge = inside & ((reference[right] - reference[left]) <= max_gap_ns)
    if np.any(bridge):
        origin = reference[0]  # float64 keeps ns exact only near the origin
        slerp = Slerp((reference - origin).astype(np.float64),
                      Rotation.from_matrix(T[:, :3, :3]))
        q = query[bridge]
        w = ((q - reference[left[bridge]]) / (reference[right[bridge]] -
                                                reference[left[bridge]]))[:, None]
        poses = np.tile(np.eye(4), (q.size, 1, 1))
        poses[:, :3, :3] = slerp((q - origin).astype(np.float64)).as_matrix()
        poses[:, :3, 3] = (1 - w) * T[left[bridge], :3, 3] + w * T[right[bridge], :3, 3]
        out[bridge] = poses
        found |= bridge
    return out, found
