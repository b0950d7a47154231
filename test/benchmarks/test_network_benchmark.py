"""align3r-bench network: the script runs end to end and prints its JSON (tiny net, not timed)."""

from __future__ import annotations

import json

import pytest

from align3r_ros.benchmarks import network

pytest.importorskip('torch')


def test_prints_json_with_per_frame_cost(shared, capsys):
    config = shared / 'fixtures' / 'align3r_tiny' / 'config.json'
    code = network.main(['--network', str(config), '--height', '48', '--width', '64',
                         '--repeats', '1', '--backends', 'torch'])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    torch_result = report['results']['torch']
    assert report['decodes_per_frame'] == 10 and report['official_s_per_frame'] == 150.0
    assert torch_result['encode_ms'] > 0 and torch_result['decode_ms'] > 0
    assert torch_result['peak_rss_mib'] > 0
    expected = (torch_result['encode_ms'] + 10 * torch_result['decode_ms']) / 1000
    assert torch_result['per_frame_s'] == pytest.approx(expected, abs=0.01)
    assert torch_result['ratio_to_official'] == pytest.approx(expected / 150, abs=1e-3)


def test_unknown_backend_is_a_usage_error(capsys):
    assert network.main(['--backends', 'tensorrt']) == 2
    assert 'tensorrt' in capsys.readouterr().err
