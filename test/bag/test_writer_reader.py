"""Atomic writing, QoS declarations, storage formats, and reading robustness."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from align3r_ros.bag.reader import BagReader
from align3r_ros.bag.writer import AtomicBagWriter, Durability, Storage
from align3r_ros.errors import BagError
from align3r_ros.messages import MessageTypes
from align3r_ros.messages.transforms import matrix_to_transform_stamped


def _tf_msg(types, stamp):
    T = np.eye(4)
    T[0, 3] = 1.0
    return types.TFMessage(transforms=[matrix_to_transform_stamped(T, stamp, 'a', 'b', types)])


def test_atomic_writer_declares_qos_and_publishes_only_when_complete(tmp_path):
    out = tmp_path / 'out'
    with AtomicBagWriter(out) as bag:
        types = MessageTypes.from_rosbags(bag.typestore)
        bag.add_topic('/tf', 'tf2_msgs/msg/TFMessage')
        bag.add_topic('/tf_static', 'tf2_msgs/msg/TFMessage', Durability.TRANSIENT_LOCAL, 1)
        bag.write('/tf', 5, _tf_msg(types, 5))
        bag.write('/tf_static', 5, _tf_msg(types, 5))
        assert not out.exists()  # still staged
    info = yaml.safe_load((out / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert info['version'] == 8 and info['storage_identifier'] == 'sqlite3'
    qos = {t['topic_metadata']['name']: yaml.safe_load(t['topic_metadata']['offered_qos_profiles'])
           for t in info['topics_with_message_count']}
    assert qos['/tf'][0]['reliability'] == 1 and qos['/tf'][0]['durability'] == 2  # volatile
    assert qos['/tf_static'][0]['durability'] == 1  # transient local
    assert [p.name for p in tmp_path.iterdir()] == ['out']  # no staging left
    with BagReader(out) as reader:
        assert [(t.name, t.count) for t in reader.topics] == [('/tf', 1), ('/tf_static', 1)]
        (item,) = list(reader.messages(['/tf']))
        assert item.log_time_ns == 5 and item.msg.transforms[0].child_frame_id == 'b'


def test_interrupted_write_leaves_nothing(tmp_path):
    out = tmp_path / 'out'
    with pytest.raises(RuntimeError):
        with AtomicBagWriter(out) as bag:
            types = MessageTypes.from_rosbags(bag.typestore)
            bag.add_topic('/tf', 'tf2_msgs/msg/TFMessage')
            bag.write('/tf', 1, _tf_msg(types, 1))
            raise RuntimeError('interrupted')
    assert list(tmp_path.iterdir()) == []


def test_existing_output_and_undeclared_topic_are_errors(tmp_path):
    (tmp_path / 'out').mkdir()
    with pytest.raises(BagError, match='exists already'):
        with AtomicBagWriter(tmp_path / 'out'):
            pass
    with pytest.raises(BagError, match='not declared'):
        with AtomicBagWriter(tmp_path / 'other') as bag:
            bag.write('/x', 1, None)
    assert not (tmp_path / 'other').exists()


@pytest.mark.parametrize('storage', list(Storage))
def test_directory_and_single_file_reading(tmp_path, storage):
    out = tmp_path / 'bag'
    with AtomicBagWriter(out, storage) as bag:
        types = MessageTypes.from_rosbags(bag.typestore)
        bag.add_topic('/tf', 'tf2_msgs/msg/TFMessage')
        for stamp in (1, 2, 3):
            bag.write('/tf', stamp, _tf_msg(types, stamp))
    suffix = '.mcap' if storage is Storage.MCAP else '.db3'
    (single,) = out.glob(f'*{suffix}')
    for path in (out, single):
        with BagReader(path) as reader:
            assert [m.log_time_ns for m in reader.messages(['/tf'])] == [1, 2, 3]


def test_metadata_version_9_is_read(tmp_path):
    with AtomicBagWriter(tmp_path / 'v9', version=9) as bag:
        types = MessageTypes.from_rosbags(bag.typestore)
        bag.add_topic('/tf', 'tf2_msgs/msg/TFMessage')
        bag.write('/tf', 7, _tf_msg(types, 7))
    with BagReader(tmp_path / 'v9') as reader:
        assert reader.topic('/tf').count == 1


def test_third_party_bag_lists_its_topics(shared):
    with BagReader(shared / 'data' / 'evo_tf_example' / 'tf_example') as reader:
        assert {(t.name, t.count) for t in reader.topics} == {('/tf', 517), ('/tf_static', 1)}
        with pytest.raises(BagError, match=r'/camera/image_raw is not in .*: /tf \('):
            reader.topic('/camera/image_raw')
        transforms = [m.msg for m in reader.messages(['/tf'])]
        assert len(transforms) == 517


def test_missing_corrupt_and_truncated_bags(tmp_path, shared):
    with pytest.raises(BagError, match='not found'):
        BagReader(tmp_path / 'nothing').open()
    garbage = tmp_path / 'garbage'
    garbage.mkdir()
    (garbage / 'metadata.yaml').write_text(': not yaml : [')
    with pytest.raises(BagError, match='cannot read bag'):
        BagReader(garbage).open()
    unknown = tmp_path / 'file.xyz'
    unknown.write_bytes(b'0123')
    with pytest.raises(BagError, match='cannot read bag'):
        BagReader(unknown).open()
    truncated = tmp_path / 'truncated'
    shutil.copytree(shared / 'data' / 'evo_tf_example' / 'tf_example', truncated)
    db = truncated / 'tf_example.db3'
    db.chmod(0o644)
    db.write_bytes(db.read_bytes()[:30000])
    with pytest.raises(BagError, match='corrupt|cannot read'):
        with BagReader(truncated) as reader:
            list(reader.messages(['/tf']))


def test_ros1_bag_with_capitalised_camera_info(tmp_path):
    from rosbags.rosbag1 import Writer
    from rosbags.typesys import Stores, get_typestore

    from align3r_ros.messages.camera_info import camera_info_to_camera

    store = get_typestore(Stores.ROS1_NOETIC)
    CameraInfo = store.types['sensor_msgs/msg/CameraInfo']
    Header = store.types['std_msgs/msg/Header']
    Time = store.types['builtin_interfaces/msg/Time']
    ROI = store.types['sensor_msgs/msg/RegionOfInterest']
    info = CameraInfo(header=Header(seq=0, stamp=Time(sec=1, nanosec=0), frame_id='cam'),
                      height=4, width=6, distortion_model='plumb_bob', D=np.zeros(5),
                      K=np.array([5.0, 0, 3, 0, 5, 2, 0, 0, 1]), R=np.eye(3).reshape(-1),
                      P=np.zeros(12), binning_x=0, binning_y=0,
                      roi=ROI(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
    path = tmp_path / 'in.bag'
    with Writer(path) as writer:
        conn = writer.add_connection('/cam/camera_info', CameraInfo.__msgtype__, typestore=store)
        writer.write(conn, 10**9, store.serialize_ros1(info, CameraInfo.__msgtype__))
    with BagReader(path) as reader:
        (item,) = list(reader.messages(['/cam/camera_info']))
    camera = camera_info_to_camera(item.msg)
    assert camera.K[0, 0] == 5.0 and (camera.width, camera.height) == (6, 4)
