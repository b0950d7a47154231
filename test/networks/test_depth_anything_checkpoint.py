"""Depth Anything V2 checkpoints: full-size key sets, variant detection, strict loading."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from align3r_ros.errors import WeightsError
from align3r_ros.networks.depth_anything.build import build_depth_anything_v2
from align3r_ros.networks.depth_anything.checkpoint import (
    detect_variant, expected_shapes, load_depth_anything_v2, read_state_dict)


@pytest.fixture(scope='module')
def manifests(shared):
    path = shared / 'fixtures' / 'depth_anything_v2_tiny' / 'depth_anything_v2_manifests.json'
    return json.loads(path.read_text())['models']


@pytest.mark.parametrize('encoder', ['vits', 'vitb', 'vitl'])
def test_full_size_keys_and_shapes_match_manifest(manifests, encoder):
    reference = {k: tuple(v) for k, v in manifests[encoder]['state_dict'].items()}
    mine = expected_shapes(encoder)
    assert list(mine) == list(reference)  # same names, same module order
    assert mine == reference
    n_values = sum(int(torch.Size(s).numel()) for s in mine.values())
    assert n_values == manifests[encoder]['n_values']


@pytest.mark.parametrize('encoder', ['vits', 'vitb', 'vitl'])
def test_detect_variant_on_manifests(manifests, encoder):
    shapes = {k: tuple(v) for k, v in manifests[encoder]['state_dict'].items()}
    assert detect_variant(shapes) == f'depth_anything_v2_{encoder}'


def test_detect_variant_rejects_others(manifests):
    shapes = {k: tuple(v) for k, v in manifests['vitl']['state_dict'].items()}
    assert detect_variant({}) is None
    assert detect_variant({'pretrained.pos_embed': (1, 1370, 384)}) is None
    del shapes['pretrained.blocks.23.norm1.weight']
    shapes = {k: v for k, v in shapes.items() if not k.startswith('pretrained.blocks.23.')}
    assert detect_variant(shapes) is None  # 23 blocks: not a release
    vitg = {k: tuple(v) for k, v in manifests['vitg']['state_dict'].items()}
    assert detect_variant(vitg) is None


def test_pth_round_trip_and_strict_errors(shared, tmp_path):
    cfg = json.loads((shared / 'fixtures' / 'depth_anything_v2_tiny' / 'config.json').read_text())
    state = build_depth_anything_v2(cfg).state_dict()
    path = tmp_path / 'tiny.pth'
    torch.save(state, path)
    loaded = load_depth_anything_v2(path, config=cfg)
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key

    # Not a released variant: detection must refuse instead of guessing.
    with pytest.raises(WeightsError, match='not a Depth Anything V2'):
        load_depth_anything_v2(path)
    broken = dict(state)
    broken.pop('depth_head.scratch.output_conv1.bias')
    broken['extra.weight'] = torch.zeros(1)
    torch.save(broken, tmp_path / 'broken.pth')
    with pytest.raises(WeightsError, match='1 missing.*output_conv1.bias.*1 unexpected'):
        load_depth_anything_v2(tmp_path / 'broken.pth', config=cfg)
    with pytest.raises(WeightsError, match='not found'):
        read_state_dict(tmp_path / 'absent.pth')
    (tmp_path / 'garbage.pth').write_bytes(b'not a zip')
    with pytest.raises(WeightsError, match='cannot read'):
        read_state_dict(tmp_path / 'garbage.pth')


def test_refuses_pickled_objects(tmp_path):
    # An arbitrary pickled object (here argparse.Namespace) is refused by weights_only=True.
    torch.save({'x': argparse.Namespace(a=1)}, tmp_path / 'evil.pth')
    with pytest.raises(WeightsError, match='cannot read'):
        read_state_dict(tmp_path / 'evil.pth')


@pytest.mark.weights
@pytest.mark.parametrize('encoder', ['vits', 'vitb', 'vitl'])
def test_released_checkpoint_loads_strictly(encoder):
    # Real files from `align3r-weights download depth_anything_v2_<encoder>`.
    import os
    from pathlib import Path

    folder = os.environ.get('ALIGN3R_WEIGHTS_DIR')
    path = Path(folder or '/nonexistent') / f'depth_anything_v2_{encoder}.pth'
    if not path.is_file():
        pytest.skip(f'{path} not present (set ALIGN3R_WEIGHTS_DIR)')
    model = load_depth_anything_v2(path)
    assert model.cfg.name == f'depth_anything_v2_{encoder}'
