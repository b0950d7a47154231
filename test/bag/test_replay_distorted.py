"""A distorted camera through the replay: frames reach the engine with their distortion model
(the engine rectifies), and ground truth is scored in the rectified geometry of the results."""

from __future__ import annotations

import dataclasses

import numpy as np

from align3r_ros.bag.frames_to_bag import FramesBagOptions, write_frames_bag
from align3r_ros.config_io import load_config
from align3r_ros.engine.steps.rectify import FrameRectifier
from align3r_ros.structures import EngineStats, Frame, FrameResult
from align3r_ros.tools.replay_run import ReplayOptions, run_replay

D = np.array([0.25, -0.1, 0.0, 0.0, 0.0])


class RectifyingEngine:
    """Answers each frame with its own ground truth in rectified geometry, as the engine's
    results are (a perfect prediction); records what it was given."""

    def __init__(self, config) -> None:
        self.stats = EngineStats()
        self.rectifier = FrameRectifier()
        self.received = []

    def push(self, frame: Frame):
        self.received.append(frame)
        depth = self.rectifier.rectify(frame).gt_depth
        return [FrameResult(stamp_ns=frame.stamp_ns, depth=depth,
                            confidence=np.full(frame.shape, 5.0, np.float32), K=frame.K,
                            T_world_cam=np.eye(4), is_metric=True,
                            dynamic_mask=np.zeros(frame.shape, bool), rgb=frame.rgb,
                            tag=frame.tag)]

    def flush(self):
        return []

    def keyframe_poses(self):
        return []


def test_ground_truth_is_rectified_like_the_results(kitchen_frames, tmp_path):
    rng = np.random.default_rng(0)
    frames = []
    for frame in kitchen_frames[:3]:  # depth blocks: any misregistration shows in Abs Rel
        h, w = frame.shape
        blocks = 1.0 + 2.0 * (rng.random((h // 8, w // 8)) > 0.5)
        frames.append(dataclasses.replace(frame, gt_depth=np.kron(
            blocks, np.ones((8, 8))).astype(np.float32)))
    bag = tmp_path / 'in'
    write_frames_bag(frames, bag, FramesBagOptions(distortion=D, depth_encoding='32FC1'))
    engines = []

    def factory(config):
        engines.append(RectifyingEngine(config))
        return engines[-1]

    options = ReplayOptions(input=bag, output=tmp_path / 'out', config=load_config({}),
                            gt_depth_topic='/camera/depth/image_raw')
    outcome = run_replay(options, engine_factory=factory)
    received = engines[0].received
    assert [f.distortion_model for f in received] == ['plumb_bob'] * 3
    assert all(np.allclose(f.D, D) for f in received)
    assert np.array_equal(received[0].rgb, frames[0].rgb)  # as recorded: the engine rectifies
    depth = outcome.report.evaluation.depth
    # nearest-neighbour resampling moves a few block edges by a pixel; misregistered ground
    # truth (not rectified) scores ~0.2
    assert depth.abs_rel < 0.03
