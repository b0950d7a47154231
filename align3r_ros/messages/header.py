"""Stamps (integer nanoseconds) <-> builtin_interfaces/Time, and std_msgs/Header."""

from __future__ import annotations

from typing import Any

from align3r_ros.errors import ConversionError
from align3r_ros.messages.types import MessageTypes

_NS_PER_S = 1_000_000_000


def stamp_ns_to_time(stamp_ns: int, types: MessageTypes) -> Any:
    """Integer nanoseconds since the epoch -> Time(sec, nanosec); nanosec in [0, 1e9).

    Raises:
        ConversionError: a negative stamp or one past int32 seconds.
    """
    stamp_ns = int(stamp_ns)
    sec, nanosec = divmod(stamp_ns, _NS_PER_S)
    if stamp_ns < 0 or sec > 2**31 - 1:
        raise ConversionError(f'stamp {stamp_ns} ns does not fit builtin_interfaces/Time')
    return types.Time(sec=sec, nanosec=nanosec)


def time_to_stamp_ns(time_msg: Any) -> int:
    """Time(sec, nanosec) (or rclpy's Time message) -> integer nanoseconds."""
    return int(time_msg.sec) * _NS_PER_S + int(time_msg.nanosec)


def make_header(stamp_ns: int, frame_id: str, types: MessageTypes) -> Any:
    """std_msgs/Header with the given stamp (ns) and frame id."""
    return types.Header(stamp=stamp_ns_to_time(stamp_ns, types), frame_id=str(frame_id))


def header_stamp_ns(header: Any) -> int:
    """The stamp of a Header in integer nanoseconds."""
    return time_to_stamp_ns(header.stamp)


def copy_header(header: Any, types: MessageTypes) -> Any:
    """A new Header equal to ``header`` (outputs never share a mutable header object)."""
    return types.Header(stamp=types.Time(sec=int(header.stamp.sec),
                                         nanosec=int(header.stamp.nanosec)),
                        frame_id=str(header.frame_id))
