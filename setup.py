"""ament_python build of align3r_ros (also a plain pip-installable package)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE_NAME = 'align3r_ros'

setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE_NAME}']),
        (f'share/{PACKAGE_NAME}', ['package.xml']),
        (f'share/{PACKAGE_NAME}/launch', glob('launch/*.launch.py')),
        (f'share/{PACKAGE_NAME}/config', glob('config/*.yaml') + glob('config/*.xml')),
        (f'share/{PACKAGE_NAME}/models', ['models/README.md']),
    ],
    install_requires=['setuptools'],
    extras_require={'test': ['pytest']},
    zip_safe=True,
    maintainer='align3r_ros maintainers',
    maintainer_email='maintainers@align3r-ros.invalid',
    description='Align3R monocular video depth, point clouds and poses for ROS 2',
    license='Apache-2.0',
    python_requires='>=3.10',
    entry_points={
        'console_scripts': [
            'align3r_node = align3r_ros.ros.node:main',
            'align3r-weights = align3r_ros.tools.weights:main',
            'align3r-export-onnx = align3r_ros.tools.export_onnx:main',
            'align3r-bench = align3r_ros.tools.bench:main',
            'align3r-config = align3r_ros.tools.config_tool:main',
            'align3r-replay = align3r_ros.tools.replay:main',
            'align3r-eval = align3r_ros.tools.eval:main',
            'align3r-bag-from-frames = align3r_ros.tools.bag_from_frames:main',
            'align3r-demo = align3r_ros.tools.demo:main',
            'align3r-map = align3r_ros.tools.map:main',
        ],
    },
)
