"""Fixtures of the tests that start the package with `ros2 launch` (see launch_support)."""

from __future__ import annotations

import pytest

from .launch_support import Processes, fresh_domain_id, require_ros2_launch


@pytest.fixture
def processes(tmp_path):
    """Start processes with ``processes.start(...)``; every one is stopped after the test,
    also when it fails."""
    started = Processes(tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def domain_id() -> int:
    """A ROS domain of the test's own."""
    require_ros2_launch()
    return fresh_domain_id()
