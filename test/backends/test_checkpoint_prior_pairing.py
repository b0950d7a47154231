"""Checkpoint <-> prior pairing: detectable mismatches raise ConfigError at start-up."""

from __future__ import annotations

import pytest

from align3r_ros.backends.checkpoint_prior_pairing import (
    check_pairing, check_prior_kind, checkpoint_prior_from_name)
from align3r_ros.config import CheckpointPrior, PriorKind
from align3r_ros.config_io import load_config
from align3r_ros.errors import ConfigError


def _config(**flat):
    return load_config(flat)


@pytest.mark.parametrize('name, expected', [
    ('models/Align3R_DepthPro_ViTLarge_BaseDecoder_512_dpt.safetensors',
     CheckpointPrior.DEPTH_PRO),
    ('/w/align3r_depthpro.pth', CheckpointPrior.DEPTH_PRO),
    ('Align3R_DepthAnythingV2_ViTLarge_BaseDecoder_512_dpt.safetensors',
     CheckpointPrior.DEPTH_ANYTHING_V2),
    ('align3r_depthanything.pth', CheckpointPrior.DEPTH_ANYTHING_V2),
    ('align3r-depth-pro/encoder.onnx', CheckpointPrior.DEPTH_PRO),  # ONNX folder name
    ('DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth', CheckpointPrior.NONE),
    ('checkpoint-final.pth', None),
    ('', None),
])
def test_checkpoint_prior_from_name(name, expected):
    assert checkpoint_prior_from_name(name) == expected


@pytest.mark.parametrize('flat', [
    {'pairwise.checkpoint_prior': 'depth_pro', 'prior.backend': 'depth_pro'},
    {'pairwise.checkpoint_prior': 'depth_anything_v2', 'prior.backend': 'depth_anything_v2'},
    {'pairwise.checkpoint_prior': 'depth_pro', 'prior.backend': 'external',
     'prior.kind': 'metric_depth'},
    {'pairwise.checkpoint_prior': 'depth_anything_v2', 'prior.backend': 'onnx',
     'prior.kind': 'disparity'},
    {'pairwise.weights': 'x/Align3R_DepthPro_ViTLarge_BaseDecoder_512_dpt.safetensors',
     'prior.backend': 'depth_pro'},
    {'pairwise.checkpoint_prior': 'none', 'prior.backend': 'none'},
    {'pairwise.backend': 'oracle', 'pairwise.checkpoint_prior': 'depth_pro',
     'prior.backend': 'none'},  # the oracle consumes no prior
])
def test_consistent_pairings_pass_silently(flat):
    assert check_pairing(_config(**flat)) == []


@pytest.mark.parametrize('flat, match', [
    ({'pairwise.checkpoint_prior': 'depth_pro', 'prior.backend': 'depth_anything_v2'},
     'expects metric_depth but prior.backend depth_anything_v2 produces disparity'),
    ({'pairwise.checkpoint_prior': 'depth_anything_v2', 'prior.backend': 'depth_pro'},
     'expects disparity'),
    ({'pairwise.checkpoint_prior': 'depth_anything_v2', 'prior.backend': 'external',
      'prior.kind': 'metric_depth'}, 'expects disparity'),
    ({'pairwise.weights': 'Align3R_DepthAnythingV2_ViTLarge_BaseDecoder_512_dpt.safetensors',
      'prior.backend': 'depth_pro'}, 'expects disparity'),
    ({'pairwise.weights': 'align3r_depthpro.pth', 'pairwise.checkpoint_prior':
      'depth_anything_v2', 'prior.backend': 'depth_anything_v2'}, 'named like a depth_pro'),
    ({'pairwise.checkpoint_prior': 'depth_pro', 'prior.backend': 'none'}, 'needs a prior'),
    ({'prior.backend': 'depth_anything_v2', 'prior.weights': 'depth_pro.pt'},
     'looks like a depth_pro checkpoint'),
])
def test_mismatches_raise(flat, match):
    with pytest.raises(ConfigError, match=match):
        check_pairing(_config(**flat))


def test_doubtful_pairings_warn():
    warnings = check_pairing(_config(**{'pairwise.checkpoint_prior': 'none',
                                        'prior.backend': 'depth_pro'}))
    assert len(warnings) == 1 and 'prior.backend none' in warnings[0]
    warnings = check_pairing(_config(**{'pairwise.weights': 'checkpoint-final.pth'}))
    assert len(warnings) == 1 and 'pairwise.checkpoint_prior' in warnings[0]
    warnings = check_prior_kind(CheckpointPrior.DEPTH_PRO, PriorKind.RELATIVE_DEPTH)
    assert len(warnings) == 1 and 'relative depth' in warnings[0]
    assert check_prior_kind(CheckpointPrior.AUTO, None) == []
