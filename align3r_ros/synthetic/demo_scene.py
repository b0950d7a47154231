"""The demo's synthetic recording: one scene that align3r-demo, the map measurement and the
dynamic-mask benchmarks all render, so their figures speak of the same frames."""

from __future__ import annotations

from dataclasses import dataclass

from align3r_ros.synthetic.sequence import SyntheticSequence, make_sequence


@dataclass(frozen=True)
class DemoScene:
    """Size and seed of the demo's recording (small enough for a minute on 2 CPU cores).

    Attributes:
        frames: frames rendered.
        height, width: image size, pixels.
        seed: scene and camera-path seed.
        movers: moving spheres.
    """

    frames: int = 30
    height: int = 96
    width: int = 128
    seed: int = 0
    movers: int = 1

    def render(self) -> SyntheticSequence:
        """Every frame of the recording, with ground truth (depth, poses, K, mover masks)."""
        return make_sequence(self.frames, self.height, self.width, seed=self.seed,
                             num_movers=self.movers)
