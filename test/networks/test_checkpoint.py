"""Checkpoint loading in every accepted format, strictness, and bad files (fake checkpoints
made in tmp_path from the tiny fixtures' weights)."""

from __future__ import annotations

import argparse
import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip('torch')
from safetensors.torch import load_file, save_file  # noqa: E402

from align3r_ros.errors import WeightsError  # noqa: E402
from align3r_ros.networks.detect import detect_checkpoint  # noqa: E402
from align3r_ros.networks.pairwise.checkpoint import HeadCounts, load_pairwise_net  # noqa: E402
from align3r_ros.networks.checkpoint_file import read_checkpoint_file  # noqa: E402

TINY_ARGS = ("AsymmetricCroCo3DStereo(pos_embed='RoPE100', patch_embed_cls='ManyAR_PatchEmbed', "
             "img_size=(512, 512), head_type='dpt', output_mode='pts3d', "
             "depth_mode=('exp', -inf, inf), conf_mode=('exp', 1, inf), enc_embed_dim=64, "
             "enc_depth=2, enc_num_heads=2, dec_embed_dim=32, dec_depth=12, dec_num_heads=2)")


class NotATensor:
    """A class weights_only unpickling must refuse."""


def fixture_state(shared, name, with_aliases=True):
    folder = shared / 'fixtures' / name
    state = load_file(str(folder / 'weights.safetensors'))
    if with_aliases:
        config = json.loads((folder / 'config.json').read_text())
        for alias, target in config['weights']['alias_of'].items():
            state[alias] = state[target]
    return state


def run_case_a(net, shared, name):
    """Max abs error of case (a) against the fixture outputs."""
    folder = shared / 'fixtures' / name
    inputs = np.load(folder / 'inputs.npz')
    ref = np.load(folder / 'outputs.npz')
    pm = [torch.from_numpy(inputs[k]) if k in inputs.files else None
          for k in ('a_pred_depth1', 'a_pred_depth2')]
    with torch.inference_mode():
        out = net(torch.from_numpy(inputs['a_img1']), torch.from_numpy(inputs['a_img2']), *pm)
    return max(np.abs(out.pts3d.numpy() - ref['a_pts3d']).max(),
               np.abs(out.pts3d_in_other_view.numpy() - ref['a_pts3d_in_other_view']).max(),
               np.abs(out.conf_in_other_view.numpy() - ref['a_conf2']).max())


def assert_same_weights(net, state):
    """Every tensor of ``state`` (the fixture's, aliases included) loaded unchanged."""
    loaded = net.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value.float()), key


@pytest.mark.parametrize('name', ['align3r_tiny', 'dust3r_tiny'])
def test_training_pth_with_args_optimizer_epoch(shared, tmp_path, name):
    path = tmp_path / 'checkpoint-final.pth'
    torch.save({'model': fixture_state(shared, name), 'args': argparse.Namespace(
        model=TINY_ARGS, lr=5e-5), 'optimizer': {'state': {}, 'param_groups': [{'lr': 1e-4}]},
        'epoch': 49, 'best_so_far': 0.5}, path)
    net = load_pairwise_net(path)  # heads read from args.model (as text)
    assert net.spec.architecture == name.split('_')[0]
    assert net.spec.enc_num_heads == 2 and net.spec.dec_num_heads == 2
    assert run_case_a(net, shared, name) < 1e-4


def test_plain_state_dict_pth_needs_heads_for_non_official_widths(shared, tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save(fixture_state(shared, 'align3r_tiny'), path)
    with pytest.raises(WeightsError, match='config.json'):
        load_pairwise_net(path)  # width 32 is not a multiple of 64: heads unknown
    state = fixture_state(shared, 'align3r_tiny')
    assert_same_weights(load_pairwise_net(path, heads=HeadCounts(2, 2)), state)
    (tmp_path / 'config.json').write_text(json.dumps(
        {'constructor_kwargs': {'enc_num_heads': 2, 'dec_num_heads': 2}}))
    net = load_pairwise_net(path)
    assert (net.spec.enc_num_heads, net.spec.dec_num_heads) == (2, 2)
    assert_same_weights(net, state)


def test_hf_safetensors_with_config_json(shared, tmp_path):
    folder = shared / 'fixtures' / 'align3r_tiny'
    shutil.copy(folder / 'weights.safetensors', tmp_path / 'model.safetensors')
    shutil.copy(folder / 'config.json', tmp_path / 'config.json')
    net = load_pairwise_net(tmp_path / 'model.safetensors')
    assert run_case_a(net, shared, 'align3r_tiny') < 1e-4
    scratch = net.downstream_head1.dpt.scratch
    assert scratch.layer_rn[0].weight is scratch.layer1_rn.weight


def test_dust3r_without_dec_blocks2_copies_the_first_decoder(shared, tmp_path):
    state = {k: v for k, v in fixture_state(shared, 'dust3r_tiny').items()
             if not k.startswith('dec_blocks2.')}
    path = tmp_path / 'dust3r_single_decoder.pth'
    torch.save({'model': state, 'args': argparse.Namespace(model=TINY_ARGS)}, path)
    net = load_pairwise_net(path)
    for block1, block2 in zip(net.dec_blocks, net.dec_blocks2):
        for (name1, p1), (name2, p2) in zip(block1.named_parameters(), block2.named_parameters()):
            assert name1 == name2 and torch.equal(p1, p2)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_tensors_are_cast_to_fp32(shared, tmp_path, dtype):
    state = {k: v.to(dtype) for k, v in fixture_state(shared, 'dust3r_tiny', False).items()}
    path = tmp_path / 'half.safetensors'
    save_file(state, str(path), metadata={'enc_num_heads': '2', 'dec_num_heads': '2'})
    net = load_pairwise_net(path)
    assert {p.dtype for p in net.parameters()} == {torch.float32}
    assert torch.equal(net.decoder_embed.weight, state['decoder_embed.weight'].float())
    assert read_checkpoint_file(path, shapes_only=True).dtype_name == str(dtype)[6:]


def test_legacy_pickle_and_ddp_prefix(shared, tmp_path):
    state = {'module.' + k: v for k, v in fixture_state(shared, 'align3r_tiny').items()}
    path = tmp_path / 'legacy.pth'
    torch.save({'model': state, 'args': argparse.Namespace(model=TINY_ARGS)}, path,
               _use_new_zipfile_serialization=False)
    assert read_checkpoint_file(path).file_format == 'torch-pickle'
    assert_same_weights(load_pairwise_net(path), fixture_state(shared, 'align3r_tiny'))


def _save_modified(shared, tmp_path, edit):
    state = fixture_state(shared, 'align3r_tiny')
    edit(state)
    path = tmp_path / 'edited.pth'
    torch.save({'model': state, 'args': argparse.Namespace(model=TINY_ARGS)}, path)
    return path


@pytest.mark.parametrize('edit, match', [
    (lambda s: s.pop('dec_blocks_pc.3.mlp.fc2.bias'), '1 missing: dec_blocks_pc.3.mlp.fc2.bias'),
    (lambda s: s.update({'extra.weight': torch.zeros(3)}), '1 unexpected: extra.weight'),
    (lambda s: s.update({'zero_convs.2.0.weight': torch.zeros(32, 32, 3)}),
     r'mis-shaped: zero_convs.2.0.weight \(32, 32, 3\) != \(32, 32, 1\)'),
    (lambda s: s.update({'enc_norm.weight': torch.zeros(64, dtype=torch.int64)}),
     'non-floating tensors'),
    (lambda s: s.update({'downstream_head2.dpt.scratch.layer_rn.1.weight': torch.zeros(
        16, 16, 3, 3)}), 'alias downstream_head2.dpt.scratch.layer_rn.1.weight differs'),
])
def test_strict_loading_names_the_offending_keys(shared, tmp_path, edit, match):
    with pytest.raises(WeightsError, match=match):
        load_pairwise_net(_save_modified(shared, tmp_path, edit))


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize('make, match', [
    (lambda d, t: d / 'missing.pth', 'not found'),
    (lambda d, t: _write(d / 'empty.pth', b''), 'empty'),
    (lambda d, t: _write(d / 'text.pth', b'hello, not weights\n' * 10), 'not a checkpoint'),
    (lambda d, t: _write(d / 'x.safetensors', b'{"a": 1}'), 'not a checkpoint'),
    (lambda d, t: _write(d / 'trunc.pth', t['pth'][:len(t['pth']) // 2]),
     'truncated or corrupt torch'),
    (lambda d, t: _write(d / 'trunc.safetensors', t['st'][:len(t['st']) - 100]),
     'truncated or corrupt safetensors'),
    (lambda d, t: _write(d / 'zipgarbage.pth', b'PK\x03\x04' + b'\x00' * 200),
     'truncated or corrupt torch'),
    (lambda d, t: _write(d / 'list.pth', t['list']), 'no state dict'),
    (lambda d, t: _write(d / 'unsafe.pth', t['unsafe']), 'refusing to unpickle'),
    (lambda d, t: _write(d / 'other.safetensors', t['other']), 'unknown architecture'),
])
def test_bad_files_raise_weights_error(shared, tmp_path, make, match):
    templates = {}
    good = tmp_path / 'good.pth'
    torch.save({'model': fixture_state(shared, 'dust3r_tiny')}, good)
    templates['pth'] = good.read_bytes()
    templates['st'] = (shared / 'fixtures' / 'dust3r_tiny' / 'weights.safetensors').read_bytes()
    torch.save([torch.zeros(2)], tmp_path / 'list_src.pth')
    templates['list'] = (tmp_path / 'list_src.pth').read_bytes()
    torch.save({'model': {'w': torch.zeros(1)}, 'x': NotATensor()}, tmp_path / 'unsafe_src.pth')
    templates['unsafe'] = (tmp_path / 'unsafe_src.pth').read_bytes()
    save_file({'some.weight': torch.zeros(2, 2)}, str(tmp_path / 'other_src.safetensors'))
    templates['other'] = (tmp_path / 'other_src.safetensors').read_bytes()
    path = make(tmp_path, templates)
    with pytest.raises(WeightsError, match=match):
        ckpt = read_checkpoint_file(path)
        detect_checkpoint(ckpt.shapes)
        load_pairwise_net(path)


def test_detect_checkpoint_recognises_each_fixture(shared):
    for name, expected in (('align3r_tiny', 'align3r'), ('dust3r_tiny', 'dust3r')):
        shapes = read_checkpoint_file(
            shared / 'fixtures' / name / 'weights.safetensors', shapes_only=True).shapes
        assert detect_checkpoint(shapes) == expected
    with pytest.raises(WeightsError, match='unknown architecture'):
        detect_checkpoint({'encoder.weight': (3, 3)})
