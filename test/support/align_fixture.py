"""Loading the global_alignment fixture (../shared/fixtures/global_alignment)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from align3r_ros.align.params import AlignmentParams
from align3r_ros.config import AlignConfig, Schedule
from align3r_ros.structures import PairPredictions

PARAM_NAMES = ('im_depthmaps', 'im_poses', 'im_focals', 'pw_poses')

#: state -> (confidence mode, shared focal, temporal weight) of the optimiser that made it.
INIT_STATES = {
    'cloud_opt_init': ('log', False, 0.0),
    'cloud_opt_conf10_init': ('uniform', False, 0.0),
    'cloud_opt_flow_init': ('log', True, 0.01),
    'cloud_opt_conf10_initpriors_init': ('uniform', False, 0.0),
}
#: run -> (init state, lr, schedule, lr_min)
RUNS = {
    'cloud_opt_lin_lr0.01': ('cloud_opt_init', 0.01, Schedule.LINEAR, 1e-6),
    'cloud_opt_cos_lr0.05': ('cloud_opt_init', 0.05, Schedule.COSINE, 1e-6),
    'cloud_opt_cos_lr0.05_conf10': ('cloud_opt_conf10_init', 0.05, Schedule.COSINE, 1e-6),
    'cloud_opt_flow_lin_lr0.01': ('cloud_opt_flow_init', 0.01, Schedule.LINEAR, 1e-3),
    'cloud_opt_flow_cos_lr0.05': ('cloud_opt_flow_init', 0.05, Schedule.COSINE, 1e-3),
}


class Fixture:
    def __init__(self, shared: Path):
        folder = shared / 'fixtures' / 'global_alignment'
        self.data = np.load(folder / 'data.npz')
        self.summary = json.loads((folder / 'summary.json').read_text())['runs']
        d = self.data
        self.predictions = PairPredictions(edges=d['edges'], pts_i=d['pred_i'],
                                           pts_j=d['pred_j'], conf_i=d['conf_i'],
                                           conf_j=d['conf_j'])

    def config(self, state: str, **overrides) -> AlignConfig:
        conf, shared, temporal = INIT_STATES[state]
        return AlignConfig(confidence=conf, shared_focal=shared, temporal_weight=temporal,
                           translation_weight=1.0, **overrides)

    def params(self, prefix: str, dtype=torch.float64) -> AlignmentParams:
        return AlignmentParams(*(torch.tensor(self.data[f'{prefix}param_{n}'], dtype=dtype)
                                 for n in PARAM_NAMES))
