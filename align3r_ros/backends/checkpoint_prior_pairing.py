"""Checkpoint <-> prior pairing (spec §2.2): each Align3R checkpoint was trained with one prior.

* Align3R-DepthPro expects metric depth (Depth Pro, or any metric source);
* Align3R-DAv2 expects Depth Anything V2 relative *disparity* used as depth;
* DUSt3R / MonST3R take no prior.

The point-map normalisation (spec §2.3) cancels focal length and global scale, but not the
difference between depth and disparity (one is the inverse geometry of the other), so feeding
the wrong kind silently degrades the network. A mismatch that can be detected from the config
(the declared ``pairwise.checkpoint_prior``, or the checkpoint / prior file names) raises
:class:`ConfigError` at start-up; doubtful combinations produce warnings.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import List, Optional

from align3r_ros.config import (
    Align3rConfig, CheckpointPrior, PairwiseBackendKind, PriorBackendKind, PriorConfig,
    PriorKind)
from align3r_ros.errors import ConfigError

#: Prior kind each checkpoint family was trained with (None: no prior input).
EXPECTED_KIND = {
    CheckpointPrior.DEPTH_PRO: PriorKind.METRIC_DEPTH,
    CheckpointPrior.DEPTH_ANYTHING_V2: PriorKind.DISPARITY,
    CheckpointPrior.NONE: None,
}


def _normalised_name(path: str) -> str:
    parts = PurePath(path).parts[-2:]  # the file and its folder (ONNX pairs live in a folder)
    return ''.join(parts).lower().replace('_', '').replace('-', '').replace(' ', '')


def checkpoint_prior_from_name(weights: str) -> Optional[CheckpointPrior]:
    """Guess the training prior of a pairwise checkpoint from its file (or folder) name.

    'Align3R_DepthPro_...' -> DEPTH_PRO, 'align3r_depthanything.pth' -> DEPTH_ANYTHING_V2,
    'DUSt3R_...' / 'MonST3R_...' -> NONE; None when the name says nothing (or both).
    """
    if not weights:
        return None
    name = _normalised_name(weights)
    found = set()
    if 'depthpro' in name:
        found.add(CheckpointPrior.DEPTH_PRO)
    if 'depthanything' in name or 'dav2' in name:
        found.add(CheckpointPrior.DEPTH_ANYTHING_V2)
    if not found and 'align3r' not in name and ('dust3r' in name or 'monst3r' in name):
        found.add(CheckpointPrior.NONE)
    return found.pop() if len(found) == 1 else None


def prior_kind_of(prior: PriorConfig) -> Optional[PriorKind]:
    """Kind of map the configured prior backend produces (None for prior.backend none)."""
    if prior.backend == PriorBackendKind.DEPTH_PRO:
        return PriorKind.METRIC_DEPTH
    if prior.backend == PriorBackendKind.DEPTH_ANYTHING_V2:
        return PriorKind.DISPARITY
    if prior.backend == PriorBackendKind.NONE:
        return None
    return PriorKind(prior.kind)


def check_prior_kind(expected: CheckpointPrior, kind: Optional[PriorKind],
                     source: str = 'prior') -> List[str]:
    """Compare the kind a checkpoint expects with the kind a prior delivers.

    Returns:
        Warnings for doubtful but usable combinations.

    Raises:
        ConfigError: a combination that feeds the network the wrong geometry or no prior.
    """
    if expected == CheckpointPrior.AUTO:
        return []
    wanted = EXPECTED_KIND[expected]
    if wanted is None:
        if kind is None:
            return []
        return [f'the pairwise checkpoint takes no prior ({expected}) but {source} produces '
                f'{kind}; set prior.backend none to skip the prior network']
    if kind is None:
        raise ConfigError(f'pairwise checkpoint trained with {expected} needs a prior, but '
                          'prior.backend is none')
    if kind == wanted:
        return []
    if wanted == PriorKind.METRIC_DEPTH and kind == PriorKind.RELATIVE_DEPTH:
        return [f'{source} gives relative depth; the {expected} checkpoint was trained on '
                'metric depth (scale cancels in the point-map normalisation, an affine shift '
                'does not)']
    raise ConfigError(f'pairwise checkpoint trained with {expected} expects {wanted} but '
                      f'{source} produces {kind}; set prior.backend / prior.kind to match, or '
                      'pairwise.checkpoint_prior to the checkpoint you use')


def _check_prior_weights_name(prior: PriorConfig) -> None:
    if prior.backend not in (PriorBackendKind.DEPTH_PRO, PriorBackendKind.DEPTH_ANYTHING_V2):
        return
    named = checkpoint_prior_from_name(prior.weights)
    family = {CheckpointPrior.DEPTH_PRO: PriorBackendKind.DEPTH_PRO,
              CheckpointPrior.DEPTH_ANYTHING_V2: PriorBackendKind.DEPTH_ANYTHING_V2}.get(named)
    if family is not None and family != prior.backend:
        raise ConfigError(f'prior.weights {prior.weights!r} looks like a {family} checkpoint '
                          f'but prior.backend is {prior.backend}')


def expected_checkpoint_prior(config: Align3rConfig) -> Optional[CheckpointPrior]:
    """The checkpoint's training prior: declared, else guessed from the name, else None.

    Raises:
        ConfigError: the declared value contradicts the checkpoint's name.
    """
    pairwise = config.pairwise
    named = checkpoint_prior_from_name(pairwise.weights)
    declared = CheckpointPrior(pairwise.checkpoint_prior)
    if declared == CheckpointPrior.AUTO:
        return named
    if named is not None and named != declared:
        raise ConfigError(f'pairwise.checkpoint_prior is {declared} but pairwise.weights '
                          f'{pairwise.weights!r} is named like a {named} checkpoint')
    return declared


def check_pairing(config: Align3rConfig) -> List[str]:
    """Start-up check of the checkpoint <-> prior pairing.

    Returns:
        Warnings (doubtful combinations, or a pairing that cannot be determined).

    Raises:
        ConfigError: a detectable mismatch, e.g. ``pairwise.checkpoint_prior: depth_pro`` with
            ``prior.backend: depth_anything_v2``, or a weights file name contradicting the
            declared or configured prior.
    """
    _check_prior_weights_name(config.prior)
    if config.pairwise.backend == PairwiseBackendKind.ORACLE:
        return []  # the oracle turns ground truth into predictions; no prior is consumed
    expected = expected_checkpoint_prior(config)
    kind = prior_kind_of(config.prior)
    if expected is None:
        return [f'cannot tell which prior the pairwise checkpoint '
                f'{config.pairwise.weights or "(none)"!r} was trained with; set '
                f'pairwise.checkpoint_prior (prior delivers {kind})']
    return check_prior_kind(expected, kind, source=f'prior.backend {config.prior.backend}')
