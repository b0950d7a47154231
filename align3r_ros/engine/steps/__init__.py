"""Steps shared by the engine's modes: prepare, rectify, solve, dynamic mask, metric scale,
odometry, the keyframe and clip stages, result assembly."""
