"""align3r-bench gpu: steps run with limits and report their JSON; no CUDA means skipped."""

from __future__ import annotations

import json

import pytest
import torch

from align3r_ros.benchmarks import gpu


def test_a_step_reports_the_json_it_printed():
    out = gpu.run_step('echo', 60, ['-c', 'print("log line"); print(\'{"fps": 21.5}\')'])
    assert out['returncode'] == 0 and out['report'] == {'fps': 21.5}


def test_a_step_without_json_keeps_its_output_and_a_hung_step_is_stopped():
    out = gpu.run_step('fails', 60, ['-c', 'import sys; sys.exit("boom")'])
    assert out['returncode'] == 1 and out['report'] is None and 'boom' in out['output_tail']
    hung = gpu.run_step('hangs', 1, ['-c', 'import threading; threading.Event().wait()'])
    assert hung == {'step': 'hangs', 'error': 'timed out after 1 s'}


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without CUDA')
def test_without_cuda_the_check_says_so_and_runs_nothing(capsys, monkeypatch):
    monkeypatch.setattr(gpu, 'run_step', lambda *a: pytest.fail('a step ran without CUDA'))
    assert gpu.main([]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['environment']['cuda_available'] is False
    assert 'no CUDA device' in report['skipped'] and 'steps' not in report
