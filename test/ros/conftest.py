"""Real rclpy fixtures (tf2_ros_py's test style): a context per test, and the rig.

Everything ROS is imported inside fixtures, so collecting this folder without rclpy works (the
tests skip through the ``ros`` marker and ``importorskip``).
"""

from __future__ import annotations

import pytest

from .ros_rig import Rig


@pytest.fixture
def context():
    """An initialised rclpy context of the test's own (shut down afterwards)."""
    rclpy = pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


@pytest.fixture
def rig_factory(context):
    rigs = []

    def make(**kwargs) -> Rig:
        rig = Rig(context, **kwargs)
        rigs.append(rig)
        return rig
    yield make
    for rig in rigs:
        rig.close()
