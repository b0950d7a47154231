"""Steps shared by the engine's modes: prepare, rectify, solve, dynamic mask, metric scale,
the keyframe and clip stages, result assembly."""
