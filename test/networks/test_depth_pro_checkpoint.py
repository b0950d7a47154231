"""Depth Pro configuration, key names (tiny and full-size manifests) and strict loading."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from align3r_ros.errors import ConfigError, WeightsError
from align3r_ros.networks.depth_pro.build import build_depth_pro
from align3r_ros.networks.depth_pro.checkpoint import (detect_variant, load_depth_pro,
                                                       read_state_dict)
from align3r_ros.networks.depth_pro.config import resolve_config


@pytest.fixture(scope='module')
def tiny_state(depth_pro_dir):
    return read_state_dict(depth_pro_dir / 'weights.safetensors')


def _manifest(depth_pro_dir, name):
    return json.loads((depth_pro_dir / f'manifest_{name}.json').read_text())


def test_fixture_config_maps_to_tiny_widths(depth_pro_config):
    config = resolve_config(depth_pro_config)
    vit = config.vit
    assert (vit.embed_dim, vit.depth, vit.num_heads, vit.mlp_hidden_dim) == (32, 24, 4, 128)
    assert vit.layer_norm_eps == 1e-6
    assert config.encoder_feature_dims == (16, 24, 40, 48)
    assert config.decoder_features == 32 and config.hook_block_ids == (5, 11)


def test_config_errors(depth_pro_config):
    with pytest.raises(ConfigError, match='depth_pro_large'):
        resolve_config('depth_pro_large')
    bad_size = copy.deepcopy(depth_pro_config)
    bad_size['depth_pro']['img_size'] = 1024
    with pytest.raises(ConfigError, match='img_size=1024'):
        resolve_config(bad_size)
    no_fov = copy.deepcopy(depth_pro_config)
    no_fov['depth_pro']['use_fov_head'] = False
    with pytest.raises(ConfigError, match='use_fov_head'):
        resolve_config(no_fov)
    with pytest.raises(ConfigError, match='encoder'):
        resolve_config({'vit': depth_pro_config['vit'],
                        'depth_pro': depth_pro_config['depth_pro']})
    with pytest.raises(ConfigError, match='num_heads'):
        resolve_config({**depth_pro_config, 'vit': {**depth_pro_config['vit'], 'num_heads': 5}})


def test_tiny_keys_in_module_order(depth_pro_dir, depth_pro_config):
    model = build_depth_pro(depth_pro_config, device='meta')
    shapes = {name: list(t.shape) for name, t in model.state_dict().items()}
    manifest = _manifest(depth_pro_dir, 'tiny')['state_dict']
    assert list(shapes) == list(manifest)
    assert shapes == manifest


def test_full_size_keys_shapes_and_count_on_meta(depth_pro_dir):
    model = build_depth_pro('depth_pro', device='meta')
    manifest = _manifest(depth_pro_dir, 'full')
    shapes = {name: list(t.shape) for name, t in model.state_dict().items()}
    assert list(shapes) == list(manifest['state_dict'])
    assert shapes == manifest['state_dict']
    assert sum(p.numel() for p in model.parameters()) == manifest['total_params'] == 951991330
    assert not list(model.buffers())
    vit_params = sum(p.numel() for p in model.encoder.patch_encoder.parameters())
    assert vit_params == manifest['params_by_group']['encoder.patch_encoder']


def test_strict_load_of_fixture(depth_pro_dir, depth_pro_config, tiny_state):
    model = load_depth_pro(depth_pro_dir / 'weights.safetensors', depth_pro_config)
    assert not model.training
    loaded = model.state_dict()
    assert len(loaded) == 1119
    assert all(torch.equal(loaded[name], tiny_state[name]) for name in tiny_state)


def test_detect_variant(depth_pro_dir, tiny_state):
    assert detect_variant({k: tuple(v.shape) for k, v in tiny_state.items()}) == 'depth_pro'
    full = _manifest(depth_pro_dir, 'full')['state_dict']
    assert detect_variant({k: tuple(v) for k, v in full.items()}) == 'depth_pro'
    partial = dict(full)
    partial.pop('fov.head.4.bias')
    assert detect_variant(partial) is None
    assert detect_variant({'pretrained.cls_token': (1, 1, 384)}) is None


def test_pt_round_trip_and_dtype_cast(tmp_path, depth_pro_config, tiny_state):
    path = tmp_path / 'depth_pro.pt'
    torch.save({k: v.half() for k, v in tiny_state.items()}, path)
    model = load_depth_pro(path, depth_pro_config)
    weight = model.state_dict()['head.4.bias']
    assert weight.dtype == torch.float32
    assert torch.equal(weight, tiny_state['head.4.bias'].half().float())


def test_errors_name_missing_unexpected_and_misshaped_keys(tmp_path, depth_pro_config, tiny_state):
    from safetensors.torch import save_file

    broken = dict(tiny_state)
    broken.pop('fov.head.4.bias')
    broken['decoder.convs.0.weight'] = torch.zeros(1)
    path = tmp_path / 'broken.safetensors'
    save_file(broken, str(path))
    with pytest.raises(WeightsError, match=r'1 missing: fov\.head\.4\.bias.*'
                                           r'1 unexpected: decoder\.convs\.0\.weight'):
        load_depth_pro(path, depth_pro_config)
    # The tiny weights against the official widths: every width-dependent key is mis-shaped.
    tiny_path = tmp_path / 'tiny.safetensors'
    save_file(tiny_state, str(tiny_path))
    with pytest.raises(WeightsError, match=r'1115 mis-shaped: decoder\.convs\.1\.weight '
                                           r'\(32, 16, 3, 3\) != \(256, 256, 3, 3\)'):
        load_depth_pro(tiny_path)


def test_unreadable_files_raise_weights_error(tmp_path):
    with pytest.raises(WeightsError, match='not found'):
        load_depth_pro(tmp_path / 'absent.pt')
    garbage = tmp_path / 'garbage.pt'
    garbage.write_bytes(b'not a checkpoint')
    with pytest.raises(WeightsError, match='cannot read'):
        load_depth_pro(garbage)
    nested = tmp_path / 'nested.pt'
    torch.save({'model': {'a': torch.zeros(1)}, 'epoch': 3}, nested)
    with pytest.raises(WeightsError, match='plain state_dict'):
        load_depth_pro(nested)
    pickled = tmp_path / 'pickled.pt'
    torch.save({'x': Path('.')}, pickled)  # needs unpickling of an arbitrary class
    with pytest.raises(WeightsError, match='cannot read'):
        load_depth_pro(pickled)


def test_config_module_does_not_import_torch():
    code = ('import sys; import align3r_ros.networks.depth_pro.config as c; '
            "c.resolve_config('depth_pro'); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, '-c', code], check=True,
                   cwd=Path(__file__).resolve().parents[2])


@pytest.mark.weights
@pytest.mark.skipif(not os.environ.get('ALIGN3R_WEIGHTS_DIR'),
                    reason='set ALIGN3R_WEIGHTS_DIR to a folder with depth_pro.pt')
def test_official_checkpoint_loads_strictly():
    path = Path(os.environ['ALIGN3R_WEIGHTS_DIR']) / 'depth_pro.pt'
    if not path.is_file():
        pytest.skip(f'{path} not found')
    model = load_depth_pro(path)
    assert sum(p.numel() for p in model.parameters()) == 951991330
