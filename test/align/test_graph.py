"""Pair graphs against the reference make_pairs semantics (spec §4.1)."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.align import complete_edges, make_pair_edges
from align3r_ros.config import GraphKind
from align3r_ros.errors import ConfigError


def _unordered(edges):
    return {tuple(sorted(e)) for e in edges.tolist()}


def test_fixture_swin2_cyclic_order(shared):
    ref = np.load(shared / 'fixtures' / 'global_alignment' / 'data.npz')['edges']
    edges = make_pair_edges(6, GraphKind.SLIDING_WINDOW, 2, cyclic=True, symmetric=True)
    assert edges.dtype == np.int64
    np.testing.assert_array_equal(edges, ref)


def test_sliding_window_noncyclic_counts():
    edges = make_pair_edges(30, GraphKind.SLIDING_WINDOW, 5, cyclic=False, symmetric=True)
    assert edges.shape == (270, 2)
    E = len(edges) // 2
    np.testing.assert_array_equal(edges[E:], edges[:E, ::-1])  # symmetrised copy follows
    assert _unordered(edges) == {(i, j) for i in range(30) for j in range(i + 1, min(i + 6, 30))}


def test_stride_window_offsets():
    edges = make_pair_edges(10, GraphKind.STRIDE_WINDOW, 3, cyclic=False, symmetric=False)
    expected = {(i, i + k) for i in range(10) for k in (1, 3, 5) if i + k < 10}
    assert _unordered(edges) == expected and len(edges) == len(expected)
    assert (edges[:, 0] < edges[:, 1]).all()


def test_cyclic_wraps_and_deduplicates():
    edges = make_pair_edges(4, GraphKind.SLIDING_WINDOW, 3, cyclic=True, symmetric=False)
    assert _unordered(edges) == {(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)}
    assert len(edges) == 6  # no duplicates, no self pairs


def test_complete():
    edges = complete_edges(4, symmetric=True)
    assert edges.shape == (12, 2)
    assert edges[:6].tolist() == [[1, 0], [2, 0], [2, 1], [3, 0], [3, 1], [3, 2]]
    same = make_pair_edges(4, GraphKind.COMPLETE, 1, False, True)
    np.testing.assert_array_equal(edges, same)


def test_bad_window():
    with pytest.raises(ConfigError):
        make_pair_edges(5, GraphKind.SLIDING_WINDOW, 0, False, True)
