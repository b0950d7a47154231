"""Full-size configurations produce exactly the official state-dict names and shapes.

Built on the meta device: no memory is allocated for the ~600 M parameters.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip('torch')
from align3r_ros.errors import ConfigError  # noqa: E402
from align3r_ros.networks.pairwise.build import build_pairwise_net  # noqa: E402

# Unique parameter counts from spec §3.2.
EXPECTED = {
    'align3r': ('align3r_vitl_512_dpt', 'align3r_state_dict_manifest.json', 603_066_248, 1069),
    'dust3r': ('dust3r_vitl_512_dpt', 'dust3r_state_dict_manifest.json', 571_171_208, 1009),
}


def meta_net(config):
    with torch.device('meta'):
        return build_pairwise_net(config)


@pytest.mark.parametrize('architecture', sorted(EXPECTED))
def test_named_config_matches_manifest(shared, architecture):
    name, manifest_file, num_params, num_keys = EXPECTED[architecture]
    manifest = json.loads((shared / 'spec' / 'manifests' / manifest_file).read_text())
    net = meta_net(name)
    mine = {key: list(value.shape) for key, value in net.state_dict().items()}
    assert len(manifest) == num_keys
    missing = sorted(set(manifest) - set(mine))
    unexpected = sorted(set(mine) - set(manifest))
    assert not missing and not unexpected, (missing[:5], unexpected[:5])
    wrong = {k: (mine[k], list(manifest[k])) for k in manifest if mine[k] != list(manifest[k])}
    assert not wrong
    assert sum(p.numel() for p in net.parameters()) == num_params


def test_fixture_style_mapping_with_official_kwargs(shared):
    """The official constructor arguments (no DPT overrides) give the official layout too."""
    config = json.loads((shared / 'fixtures' / 'align3r_tiny' / 'config.json').read_text())
    kwargs = dict(config['constructor_kwargs'], enc_embed_dim=1024, enc_depth=24,
                  enc_num_heads=16, dec_embed_dim=768, dec_depth=12, dec_num_heads=12)
    net = meta_net({'architecture': 'align3r', 'constructor_kwargs': kwargs})
    manifest = json.loads(
        (shared / 'spec' / 'manifests' / 'align3r_state_dict_manifest.json').read_text())
    assert {k: list(v.shape) for k, v in net.state_dict().items()} == \
        {k: list(v) for k, v in manifest.items()}


def test_alias_keys_share_storage_with_layer_rn(shared):
    net = meta_net('align3r_vitl_512_dpt')
    dropped = json.loads(
        (shared / 'spec' / 'manifests' / 'hf_safetensors_dropped_alias_keys.json').read_text())
    for head in (net.downstream_head1, net.downstream_head2):
        scratch = head.dpt.scratch
        for idx in range(4):
            assert scratch.layer_rn[idx].weight is getattr(scratch, f'layer{idx + 1}_rn').weight
    assert all(key in net.state_dict() for key in dropped)


@pytest.mark.parametrize('config, match', [
    ('align3r_vitl_1024', 'unknown pairwise network'),
    ({'architecture': 'croco'}, 'architecture'),
    ({'architecture': 'dust3r', 'constructor_kwargs': {'head_type': 'linear'}}, 'head_type'),
    ({'architecture': 'dust3r', 'constructor_kwargs': {'pos_embed': 'cosine'}}, 'pos_embed'),
    ({'architecture': 'dust3r', 'constructor_kwargs': {'enc_num_heads': 5}}, 'enc_embed_dim'),
    ({'architecture': 'dust3r', 'constructor_kwargs': {'depth_mode': ['square', 0, 1]}},
     'depth_mode'),
    ({'architecture': 'dust3r', 'constructor_kwargs': {'bogus': 1}}, 'bogus'),
])
def test_bad_config_raises_config_error(config, match):
    with pytest.raises(ConfigError, match=match):
        meta_net(config)
