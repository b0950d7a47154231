"""The lost-frame estimate from stamp gaps (pure; runs without ROS)."""

from __future__ import annotations

import numpy as np

from align3r_ros.ros.arrivals import ArrivalGaps

PERIOD = 33_333_333  # 30 Hz


def _feed(indices, jitter_ns=0, seed=0) -> ArrivalGaps:
    rng = np.random.default_rng(seed)
    gaps = ArrivalGaps()
    for i in indices:
        gaps.add(i * PERIOD + int(rng.integers(-jitter_ns, jitter_ns + 1)))
    return gaps


def test_counts_the_frames_missing_between_stamps_despite_jitter():
    # 20 % lost in pairs, from frame 13 on (the rate is known from the first gaps)
    kept = [i for i in range(300) if i < 10 or i % 10 not in (3, 4)]
    assert _feed(kept, jitter_ns=3_000_000).lost == 300 - len(kept) == 58
    assert _feed(range(300), jitter_ns=3_000_000).lost == 0


def test_a_loop_or_restart_is_not_counted_and_restarts_the_estimate():
    gaps = _feed(list(range(50)) + list(range(50)) + [52, 53])  # a bag loop, then 50, 51 lost
    assert gaps.lost == 2


def test_no_estimate_before_the_rate_is_known():
    gaps = ArrivalGaps()
    assert gaps.add(0) == 0 and gaps.add(10 * PERIOD) == 0 and gaps.period_ns() is None
