"""Fixtures shared by the Depth Pro tests: the tiny parity fixture's folder and config."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope='session')
def depth_pro_dir(shared):
    return shared / 'fixtures' / 'depth_pro_tiny'


@pytest.fixture(scope='session')
def depth_pro_config(depth_pro_dir):
    return json.loads((depth_pro_dir / 'config.json').read_text())
