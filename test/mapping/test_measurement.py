"""The measurement of docs/mapping.md at CI size: with ``output.exclude_dynamic`` the map of
our outputs has <= 2 % outliers against the static ground-truth map and >= 80 % fewer points
on the mover's trail than without (the replay's real engine, oracle backend). Ignoring the mask
leaves the trail in and fails here."""

from __future__ import annotations

from align3r_ros.synthetic.demo_scene import DemoScene
from align3r_ros.tools.map_measure import measure
from mapping.conftest import needs_open3d

#: 20 frames of the demo's scene size; seed 1 sweeps the mover across the view early on
CI_SCENE = DemoScene(frames=20, height=96, width=128, seed=1)


@needs_open3d
def test_excluding_dynamic_pixels_keeps_the_movers_trail_out_of_the_map(tmp_path):
    result = measure(CI_SCENE, tmp_path)
    without, excluded, masked = result.without, result.exclude_dynamic, result.apply_mask
    assert without.trail_points >= 100, 'the scene must leave a trail worth removing'
    assert result.trail_reduction(excluded) >= 0.8, (without, excluded)
    assert excluded.outlier_fraction <= 0.02
    # the mapper's --apply-mask on the bag recorded without exclusion does the same
    assert masked.masked_fraction > 0 and result.trail_reduction(masked) >= 0.8, masked
    assert masked.outlier_fraction <= 0.02
    assert excluded.frames_fused == without.frames_fused == CI_SCENE.frames
