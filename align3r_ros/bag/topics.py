"""Which topics of an input bag are read: the image, its CameraInfo, a depth prior, ground truth.

The image topic is found automatically when the bag has exactly one image topic (raw or
compressed) besides the depth topics named; otherwise the user names it, and every error lists the
topics that exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from align3r_ros.bag.reader import (
    CAMERA_INFO_TYPE,
    COMPRESSED_TYPE,
    IMAGE_TYPE,
    POSE_TYPES,
    TF_TYPE,
    TopicSummary,
    describe_topics,
)
from align3r_ros.errors import BagError


@dataclass(frozen=True)
class InputTopics:
    """The topics one replay reads.

    Attributes:
        image: colour image topic (sensor_msgs/Image or CompressedImage).
        compressed: True when ``image`` is a CompressedImage topic.
        camera_info: CameraInfo topic, or None (intrinsics estimated or taken from the config).
        prior: depth Image topic fed to the engine as ``Frame.prior`` (16UC1 mm or 32FC1 m, e.g.
            an RGB-D camera or a depth network node), or None.
        gt_depth: ground-truth depth Image topic (16UC1 mm or 32FC1 m), or None.
        gt_pose: ground-truth pose topic (PoseStamped, Odometry, TransformStamped,
            PoseWithCovarianceStamped), or None.
        gt_tf_frame: child frame whose /tf (and /tf_static) transform is the ground-truth pose,
            or None.
    """

    image: str
    compressed: bool
    camera_info: Optional[str] = None
    prior: Optional[str] = None
    gt_depth: Optional[str] = None
    gt_pose: Optional[str] = None
    gt_tf_frame: Optional[str] = None

    @property
    def has_ground_truth(self) -> bool:
        return bool(self.gt_depth or self.gt_pose or self.gt_tf_frame)


def _find(topics: Sequence[TopicSummary], name: str) -> TopicSummary:
    for summary in topics:
        if summary.name == name:
            return summary
    raise BagError(f'topic {name} is not in the bag; it has: {describe_topics(topics)}')


def _require_type(summary: TopicSummary, allowed: Sequence[str], what: str) -> None:
    if summary.msgtype not in allowed:
        raise BagError(f'{what} topic {summary.name} has type {summary.msgtype}; expected '
                       f'{" or ".join(allowed)}')


def _select_image(topics: Sequence[TopicSummary], requested: Optional[str],
                  excluded: Sequence[str]) -> TopicSummary:
    if requested:
        summary = _find(topics, requested)
        _require_type(summary, (IMAGE_TYPE, COMPRESSED_TYPE), 'image')
        return summary
    candidates = [t for t in topics if t.msgtype in (IMAGE_TYPE, COMPRESSED_TYPE)
                  and t.name not in excluded and t.count > 0]
    if len(candidates) > 1:
        # Depth streams recorded beside the colour stream are not candidates for the input.
        colour = [t for t in candidates if 'depth' not in t.name.lower()]
        candidates = colour if colour else candidates
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise BagError(f'no image topic (sensor_msgs/Image or CompressedImage) in the bag; it '
                       f'has: {describe_topics(topics)}')
    names = ', '.join(t.name for t in candidates)
    raise BagError(f'several image topics ({names}); choose one with --image-topic')


def _select_camera_info(topics: Sequence[TopicSummary], requested: Optional[str],
                        image: str) -> Optional[str]:
    if requested:
        _require_type(_find(topics, requested), (CAMERA_INFO_TYPE,), 'camera info')
        return requested
    infos = [t for t in topics if t.msgtype == CAMERA_INFO_TYPE and t.count > 0]
    base = image[:-len('/compressed')] if image.endswith('/compressed') else image
    sibling = base.rsplit('/', 1)[0] + '/camera_info'
    for summary in infos:
        if summary.name == sibling:
            return summary.name
    return infos[0].name if len(infos) == 1 else None


def select_input_topics(topics: Sequence[TopicSummary], image: Optional[str] = None,
                        camera_info: Optional[str] = None, gt_depth: Optional[str] = None,
                        gt_pose: Optional[str] = None,
                        gt_tf_frame: Optional[str] = None,
                        prior: Optional[str] = None) -> InputTopics:
    """Resolve the topics of a replay (None: found automatically where possible).

    Raises:
        BagError: a named topic is missing or of the wrong type (listing the topics that
            exist), no or several image topics, or both a pose topic and a TF frame.
    """
    if gt_pose and gt_tf_frame:
        raise BagError('give either --gt-pose-topic or --gt-tf-frame, not both')
    if gt_depth:
        _require_type(_find(topics, gt_depth), (IMAGE_TYPE,), 'ground-truth depth')
    if prior:
        _require_type(_find(topics, prior), (IMAGE_TYPE,), 'prior depth')
    if gt_pose:
        _require_type(_find(topics, gt_pose), POSE_TYPES, 'ground-truth pose')
    if gt_tf_frame and not any(t.msgtype == TF_TYPE for t in topics):
        raise BagError(f'--gt-tf-frame {gt_tf_frame} needs /tf in the bag; it has: '
                       f'{describe_topics(topics)}')
    image_summary = _select_image(topics, image, [n for n in (gt_depth, prior) if n])
    return InputTopics(image=image_summary.name,
                       compressed=image_summary.msgtype == COMPRESSED_TYPE,
                       camera_info=_select_camera_info(topics, camera_info, image_summary.name),
                       prior=prior, gt_depth=gt_depth, gt_pose=gt_pose, gt_tf_frame=gt_tf_frame)
