"""Fixtures of the integration tests: 7-Scenes frames, tiny pairwise weights.

The tiny Align3R fixture (``../shared/fixtures/align3r_tiny``) has random weights. Its view-1 head
happens to put every point behind the camera (z < 0 on all pixels), which no trained network
does and which makes the focal/depth initialisation meaningless. ``tiny_forward_weights`` is the
same checkpoint with the z row of ``downstream_head1.dpt.head.4`` negated (raw z -> -z, so the
post-processed z flips sign: pts = v / |v| * expm1(|v|)); everything else, including the
architecture and the ``config.json`` that gives the head counts, is unchanged. Geometry stays
meaningless (random weights); the tests assert the engine's contract, not accuracy.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import List

import numpy as np
import pytest

from align3r_ros.structures import Frame

#: Stamps that a float64 cannot hold exactly: any float round trip would change them.
T0_NS = 1_700_000_000_123_456_789
STEP_NS = 33_333_333
SEVEN_SCENES_K = np.array([[585.0, 0.0, 320.0], [0.0, 585.0, 240.0], [0.0, 0.0, 1.0]])


@pytest.fixture(scope='module', autouse=True)
def _every_module_here_on_one_torch_thread(one_torch_thread):
    """The tiny networks gain nothing from a second thread (test/conftest.py's fixture, taken
    by every module here before its module-scoped fixtures run the engine)."""


@pytest.fixture(scope='session')
def seven_scenes_dir(shared) -> Path:
    path = shared / 'data' / '7scenes_redkitchen'
    if not (path / 'color').is_dir():
        pytest.skip(f'7-Scenes data not found at {path}')
    return path


@pytest.fixture(scope='session')
def tiny_fixture_weights(shared) -> Path:
    """The fixture file as shipped (its config.json beside it gives the head counts)."""
    path = shared / 'fixtures' / 'align3r_tiny' / 'weights.safetensors'
    if not path.is_file():
        pytest.skip(f'tiny Align3R fixture not found at {path}')
    return path


@pytest.fixture(scope='session')
def tiny_forward_weights(tiny_fixture_weights, tmp_path_factory) -> Path:
    """The fixture with head 1's z output negated (see the module docstring)."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path_factory.mktemp('align3r_tiny_forward')
    state = load_file(str(tiny_fixture_weights))
    for name in ('weight', 'bias'):
        key = f'downstream_head1.dpt.head.4.{name}'
        tensor = state[key].clone()
        tensor[2] = -tensor[2]  # output channels: x, y, z, confidence
        state[key] = tensor
    save_file(state, str(folder / 'weights.safetensors'))
    shutil.copy(tiny_fixture_weights.with_name('config.json'), folder / 'config.json')
    return folder / 'weights.safetensors'


def load_seven_scenes(folder: Path, count: int) -> List[Frame]:
    """``count`` frames (640x480) restamped T0_NS + i * STEP_NS; ``Frame.prior`` = GT depth
    (metres, NaN where the sensor had none), K = the 7-Scenes 585/320/240."""
    from align3r_ros.evaluation.datasets import DatasetKind, load_sequence

    data = load_sequence(DatasetKind.SEVEN_SCENES, folder, frames=count)
    assert len(data.frames) == count
    return [Frame(stamp_ns=T0_NS + i * STEP_NS, rgb=f.rgb, K=SEVEN_SCENES_K.copy(),
                  prior=f.gt_depth, gt_depth=f.gt_depth, gt_T_world_cam=f.gt_T_world_cam)
            for i, f in enumerate(data.frames)]


@pytest.fixture(scope='session')
def seven_scenes_frames(seven_scenes_dir) -> List[Frame]:
    return load_seven_scenes(seven_scenes_dir, 12)
