"""align3r-export-onnx: pairwise export through the CLI (DUSt3R tiny), prior delegation, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from align3r_ros.networks.pairwise.onnx_runtime import PairwiseOnnxSession
from align3r_ros.tools import export_onnx

pytest.importorskip('torch')

REL_TOL = 1e-3  # issue 2: onnxruntime vs torch <= 1e-3 relative


def test_pairwise_dust3r_export_matches_fixture(shared, tmp_path, capsys):
    folder = shared / 'fixtures' / 'dust3r_tiny'
    out = tmp_path / 'dust3r_onnx'
    code = export_onnx.main(['--model', 'pairwise', '--weights',
                             str(folder / 'weights.safetensors'), '--height', '48', '--width',
                             '80', '-o', str(out)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary['architecture'] == 'dust3r' and summary['num_injections'] == 0
    assert summary['files'] == ['decoder.onnx', 'encoder.onnx', 'pairwise_onnx.json']
    assert summary['max_rel_error'] < REL_TOL
    session = PairwiseOnnxSession(out, threads=1)
    assert not session.needs_pointmap
    inputs, expected = np.load(folder / 'inputs.npz'), np.load(folder / 'outputs.npz')
    for case in ('b', 'c'):  # portrait (traced landscape), batch of 2
        tokens1, none1 = session.encode(inputs[f'{case}_img1'])
        tokens2, _ = session.encode(inputs[f'{case}_img2'])
        assert none1 is None
        got = session.decode(tokens1, None, tokens2, None)
        for value, key in zip(got, ('pts3d', 'conf', 'pts3d_in_other_view', 'conf2')):
            ref = expected[f'{case}_{key}']
            assert np.abs(value - ref).max() / np.abs(ref).max() < REL_TOL, key


def test_pairwise_from_config_random_weights(shared, tmp_path, capsys):
    config = shared / 'fixtures' / 'align3r_tiny' / 'config.json'
    code = export_onnx.main(['--config', str(config), '--height', '32', '--width', '48',
                             '--no-verify', '-o', str(tmp_path)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary['architecture'] == 'align3r' and summary['example_hw'] == [32, 48]
    assert summary['max_rel_error'] is None


@pytest.mark.parametrize('argv,message', [
    (['--weights', 'missing.safetensors'], 'missing.safetensors'),
    ([], '--weights'),
    (['--config', 'align3r_vitl_512_dpt', '--height', '100'], 'multiples of 16'),
    (['--model', 'depth_pro'], '--weights'),
])
def test_errors_exit_one_with_one_line(tmp_path, capsys, argv, message):
    code = export_onnx.main(argv + ['-o', str(tmp_path / 'out')])
    err = capsys.readouterr().err.strip()
    assert code == 1 and message in err and len(err.splitlines()) == 1


def test_prior_export_is_delegated(tmp_path, capsys, monkeypatch):
    from align3r_ros.networks import prior_onnx_export

    calls = []

    def fake_export(model_name, weights, out_path, **kwargs):
        calls.append((model_name, weights, out_path, kwargs))
        return prior_onnx_export.PriorOnnxExport(path=out_path, contract=None,
                                                 example_hw=(518, 686), max_relative_error=2e-6)

    monkeypatch.setattr(prior_onnx_export, 'export_prior_onnx', fake_export)
    code = export_onnx.main(['--model', 'depth_anything_v2', '--weights', 'dav2.pth',
                             '--height', '518', '--width', '686', '-o', str(tmp_path)])
    assert code == 0
    name, weights, out_path, kwargs = calls[0]
    assert (name, weights) == ('depth_anything_v2', 'dav2.pth')
    assert out_path == tmp_path / 'depth_anything_v2.onnx'
    assert kwargs['example_hw'] == (518, 686) and kwargs['verify']
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary['max_rel_error'] == 2e-6


@pytest.mark.parametrize('case', ['pairwise into a folder with files', 'pairwise into a file',
                                  'prior over an existing .onnx'])
def test_output_checked_before_any_work(tmp_path, case):
    import subprocess
    import sys

    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'encoder.onnx').write_bytes(b'earlier export')
    (tmp_path / 'afile').write_bytes(b'keep')
    (tmp_path / 'old.onnx').write_bytes(b'earlier prior')
    model, out, message = {
        'pairwise into a folder with files': ('pairwise', tmp_path / 'full', 'exists already'),
        'pairwise into a file': ('pairwise', tmp_path / 'afile', 'is a file'),
        'prior over an existing .onnx': ('depth_anything_v2', tmp_path / 'old.onnx',
                                         'exists already')}[case]
    # no --weights: any work at all would fail with another message
    result = subprocess.run([sys.executable, '-m', 'align3r_ros.tools.export_onnx', '--model',
                             model, '--config', 'align3r_vitl_512_dpt', '-o', str(out)],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and 'Traceback' not in result.stderr
    assert (tmp_path / 'full' / 'encoder.onnx').read_bytes() == b'earlier export'
    assert (tmp_path / 'afile').read_bytes() == b'keep'
    assert (tmp_path / 'old.onnx').read_bytes() == b'earlier prior'
