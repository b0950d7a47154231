"""The reference-compatible first-order loop (``solver: adam``, spec §5.6)."""

from __future__ import annotations

from typing import Callable, Optional

import torch

from align3r_ros.align.objective import ObjectiveData, evaluate_loss
from align3r_ros.align.params import AlignmentParams
from align3r_ros.align.schedule import learning_rate
from align3r_ros.config import Schedule

#: Adam betas of the reference loop.
BETAS = (0.9, 0.9)


def run_adam(params: AlignmentParams, data: ObjectiveData, iterations: int, lr: float,
             lr_min: float, schedule: Schedule, train_focal: bool = True,
             on_step: Optional[Callable[[int, float], None]] = None) -> list:
    """Optimise ``params`` in place with Adam(β = (0.9, 0.9), eps 1e-8).

    The learning rate is set every iteration from t = it / iterations. Every parameter is
    trained except the focal when ``train_focal`` is False (known intrinsics); anchored frames
    receive no gradient because the objective substitutes them.

    Returns:
        The loss of every iteration, evaluated before that iteration's update.
    """
    trainable = [params.log_depth, params.im_pose, params.pw_pose]
    if train_focal:
        trainable.append(params.focal)
    for tensor in trainable:
        tensor.requires_grad_(True)
    optimizer = torch.optim.Adam(trainable, lr=lr, betas=BETAS)
    history = []
    for it in range(iterations):
        lr_t = learning_rate(schedule, it / iterations, lr, lr_min)
        for group in optimizer.param_groups:
            group['lr'] = lr_t
        optimizer.zero_grad()
        loss = evaluate_loss(params, data).total
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        history.append(value)
        if on_step is not None:
            on_step(it, value)
    for tensor in trainable:
        tensor.requires_grad_(False)
    return history
