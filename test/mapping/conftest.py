"""Mapping tests: those that fuse maps need Open3D, which the README's setup does not install
(see docs/mapping.md); they skip without it, and the summary says so in one line. The mapping
leg of ``.ci/run`` installs it and runs them."""

from __future__ import annotations

import importlib.util

import pytest

OPEN3D_MISSING = ('Open3D is not installed (python3 -m pip install open3d-cpu==0.20.0; apt-get '
                  'install libusb-1.0-0; .ci/run\'s mapping leg does)')


def has_open3d() -> bool:
    """Open3D imports (installed, and its system library present)."""
    if importlib.util.find_spec('open3d') is None:
        return False
    try:
        import open3d  # noqa: F401
    except ImportError:
        return False
    return True


needs_open3d = pytest.mark.skipif(not has_open3d(), reason=OPEN3D_MISSING)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line when mapping tests skipped for want of Open3D."""
    skipped = [r for r in terminalreporter.stats.get('skipped', [])
               if OPEN3D_MISSING in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f'{len(skipped)} mapping tests skipped: {OPEN3D_MISSING}',
                                    yellow=True)
