"""Shared test fixtures: paths to ../shared, markers that skip cleanly, torch on one thread.

Tests that need the shared folder (parity fixtures, real recordings) take the ``shared`` fixture;
where it is absent (a fresh clone) they skip, and the terminal summary says how many and why in
one line. ``ALIGN3R_SHARED_DIR`` points the tests at another copy of the folder.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR_ENV = 'ALIGN3R_SHARED_DIR'
_SHARED_MISSING = 'shared folder not found at '


def shared_dir() -> Path:
    """The shared folder (fixtures, spec, data): ``$ALIGN3R_SHARED_DIR``, else ``../shared``
    beside the project root."""
    override = os.environ.get(SHARED_DIR_ENV)
    if override:
        return Path(override).resolve()
    return (PROJECT_ROOT / '..' / 'shared').resolve()


@pytest.fixture(scope='session')
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f'{_SHARED_MISSING}{path}')
    return path


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or '')


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line when tests skipped because the shared folder is missing (count and reason)."""
    skipped = [r for r in terminalreporter.stats.get('skipped', [])
               if _SHARED_MISSING in _skip_reason(r)]
    if skipped:
        terminalreporter.write_line(
            f'{len(skipped)} tests skipped: {_SHARED_MISSING}{shared_dir()} (parity fixtures '
            f'and real recordings; set {SHARED_DIR_ENV} to its location to run them)',
            yellow=True)


def _has_cuda() -> bool:
    if importlib.util.find_spec('torch') is None:
        return False
    import torch
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason='needs a CUDA GPU')
    skip_ros = pytest.mark.skip(reason='needs rclpy: source .ci/ros2_env.sh and run its '
                                       '$ALIGN3R_ROS2_PYTHON (docs/node.md)')
    has_ros = importlib.util.find_spec('rclpy') is not None
    has_gpu = None
    for item in items:
        if 'gpu' in item.keywords:
            if has_gpu is None:
                has_gpu = _has_cuda()
            if not has_gpu:
                item.add_marker(skip_gpu)
        if item.get_closest_marker('ros') is not None and not has_ros:  # the marker, not
            # the keyword: test/ros's pure tests (folder name 'ros') run without ROS
            item.add_marker(skip_ros)


@pytest.fixture(scope='session')
def dav2_dir(shared):
    """The tiny Depth Anything V2 parity fixture's folder."""
    return shared / 'fixtures' / 'depth_anything_v2_tiny'


@pytest.fixture(scope='session')
def tiny_dav2(dav2_dir):
    """The tiny Depth Anything V2 network with the fixture's weights (read-only in tests)."""
    import json

    from safetensors.torch import load_file

    from align3r_ros.networks.depth_anything.build import build_depth_anything_v2
    from align3r_ros.networks.depth_anything.checkpoint import load_state_dict_strict

    model = build_depth_anything_v2(json.loads((dav2_dir / 'config.json').read_text()))
    load_state_dict_strict(model, load_file(str(dav2_dir / 'weights.safetensors')))
    return model


@pytest.fixture(scope='module')
def one_torch_thread():
    """Torch on one intra-op thread from the first test that asks until the end of its module
    (then restored): ``support.torch_threads.single_torch_thread``, which sets it through the
    runtime configuration (``runtime.threads``) as every entry point does.

    On a loaded 2-core machine a second thread oversubscribes the cores (the OpenMP pool's
    spin-waiting made one tiny-network clip cost 4-8 s of CPU instead of 0.4 s); one thread
    also makes cpu reductions bitwise reproducible run to run.
    """
    pytest.importorskip('torch')
    from support.torch_threads import single_torch_thread

    with single_torch_thread():
        yield
