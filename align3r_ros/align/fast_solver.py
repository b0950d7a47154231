"""Placeholder: replaced by the fast solver (currently runs a short Adam schedule)."""

from __future__ import annotations

from align3r_ros.align.optimise import run_adam


def solve_fast(params, data, problem, config, on_step=None) -> int:
    run_adam(params, data, 100, config.lr, config.lr_min, config.schedule,
             train_focal=problem.intrinsics is None, on_step=on_step)
    return 100
