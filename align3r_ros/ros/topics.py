"""The node's input topic names (relative, remapped by the launch file); no ROS imports.

The subscriptions are created from these names (``inputs.py``) and the launch file's
remappings are tested against them (``test/ros/launched/test_launch_description.py``), so
renaming one without the other fails a test.
"""

from __future__ import annotations

from typing import Tuple

from align3r_ros.config import CameraInfoMode, ImageTransport, InputConfig

IMAGE_TOPIC = 'image'
COMPRESSED_TOPIC = 'image/compressed'
CAMERA_INFO_TOPIC = 'camera_info'
PRIOR_TOPIC = 'prior/depth'
#: every input topic some configuration subscribes to.
ALL_INPUT_TOPICS = (IMAGE_TOPIC, COMPRESSED_TOPIC, CAMERA_INFO_TOPIC, PRIOR_TOPIC)


def input_topics(config: InputConfig) -> Tuple[str, ...]:
    """The (relative) topics the node subscribes to with this input config."""
    topics = [COMPRESSED_TOPIC if config.transport is ImageTransport.COMPRESSED else IMAGE_TOPIC]
    if config.camera_info is not CameraInfoMode.NONE:
        topics.append(CAMERA_INFO_TOPIC)
    if config.use_prior_topic:
        topics.append(PRIOR_TOPIC)
    return tuple(topics)
