"""Fixtures for the message tests: rosbags typestore classes (Humble and Jazzy)."""

from __future__ import annotations

from typing import Any

import pytest

from align3r_ros.messages import MessageTypes


@pytest.fixture(scope='session', params=['ROS2_HUMBLE', 'ROS2_JAZZY'])
def typestore(request) -> Any:
    from rosbags.typesys import Stores, get_typestore
    return get_typestore(getattr(Stores, request.param))


@pytest.fixture(scope='session')
def types(typestore) -> MessageTypes:
    return MessageTypes.from_rosbags(typestore)


@pytest.fixture(scope='session')
def cdr_round_trip(typestore):
    """Serialise a message to CDR and back: proves every field has the right type."""
    def round_trip(msg: Any) -> Any:
        data = typestore.serialize_cdr(msg, msg.__msgtype__)
        return typestore.deserialize_cdr(data, msg.__msgtype__)
    return round_trip
