"""The import direction of STYLE.md, enforced by walking the AST (stdlib only).

Every module of the package is parsed and every import in it (top-level, inside functions, under
``TYPE_CHECKING``; relative imports resolved) is an edge of the package's import graph. The rules
below run on that graph. None of them can pass vacuously: the walk must cover every folder of the
package and a known list of modules, every rule must have modules to check, and the detectors are
shown to find what they look for on the real code (rclpy in ``ros/``) and on a known cycle.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Mapping, Set, Tuple

PACKAGE = Path(__file__).resolve().parents[1] / 'align3r_ros'
ROS_MODULES = ('rclpy', 'sensor_msgs', 'geometry_msgs', 'nav_msgs', 'tf2_ros', 'tf2_msgs',
               'std_msgs', 'diagnostic_msgs', 'builtin_interfaces', 'cv_bridge',
               'message_filters', 'lifecycle_msgs', 'rcl_interfaces', 'launch', 'launch_ros')

#: Modules the walk must find (a rename or a broken walker fails here, not silently).
KNOWN_MODULES = (
    'align3r_ros.config', 'align3r_ros.config_io', 'align3r_ros.errors', 'align3r_ros.structures',
    'align3r_ros.engine.engine', 'align3r_ros.geometry.camera', 'align3r_ros.geometry.se3',
    'align3r_ros.geometry.sim3', 'align3r_ros.geometry.quaternion',
    'align3r_ros.messages.transforms', 'align3r_ros.messages.point_cloud',
    'align3r_ros.networks.pairwise.model', 'align3r_ros.networks.pairwise.onnx_export',
    'align3r_ros.networks.pairwise.onnx_runtime', 'align3r_ros.align.objective',
    'align3r_ros.backends.oracle', 'align3r_ros.backends.checkpoint_prior_pairing',
    'align3r_ros.evaluation.pose_metrics', 'align3r_ros.bag.reader', 'align3r_ros.ros.node',
    'align3r_ros.synthetic.sequence', 'align3r_ros.tools.export_onnx',
    'align3r_ros.streams.association', 'align3r_ros.bag.input_frames',
)

#: The layer picture: the first fenced block under "## Layers" in docs/architecture.md.
ARCHITECTURE_DOC = PACKAGE.parent / 'docs' / 'architecture.md'
_NAME = re.compile(r'^([a-z_][a-z0-9_]*)(?:/|\.py)$')


def parse_layers(picture: str) -> Tuple[Tuple[str, ...], ...]:
    """Layers, bottom-up, from a layer picture drawn top-down.

    Lines with an arrow head (▼) separate the layers. In the other lines, text in parentheses
    is description; what is left splits into boxes at runs of two or more spaces, and a box
    whose first word is ``name/`` or ``name.py`` places the component ``name`` (the rest of the
    box is description too).
    """
    layers: List[List[str]] = [[]]
    for line in picture.splitlines():
        if '▼' in line:
            layers.append([])
            continue
        while re.search(r'\([^()]*\)', line):  # innermost first: SE(3) inside a description
            line = re.sub(r'\([^()]*\)', ' ', line)
        for box in re.split(r'\s{2,}', line.strip()):
            match = _NAME.match(box.split(' ')[0]) if box else None
            if match:
                layers[-1].append(match.group(1))
    return tuple(tuple(layer) for layer in reversed(layers) if layer)


def _picture(doc: str) -> str:
    section = doc.split('\n## Layers\n', 1)[1]
    return section.split('```', 2)[1]


#: Layers, bottom-up, read from docs/architecture.md's picture. A module may import its own
#: component and components of lower layers only, so components of one layer (e.g. networks
#: and align) never import each other. A component is a top-level module or folder of the
#: package; a new one must be placed in the picture.
LAYERS = parse_layers(_picture(ARCHITECTURE_DOC.read_text(encoding='utf-8')))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


@lru_cache(maxsize=None)
def _modules() -> Mapping[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob('*.py'))}


def _imports_of(path: Path, name: str) -> List[str]:
    """Absolute names of every import in the module (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - (node.level - 1)]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ''
            found.append(module)
            found += [f'{module}.{alias.name}' for alias in node.names]
    return found


@lru_cache(maxsize=None)
def _imports() -> Mapping[str, tuple]:
    """{module: names it imports (``from a import b`` gives both a and a.b)}."""
    return {name: tuple(_imports_of(path, name)) for name, path in _modules().items()}


def _internal_edges(imports: Mapping[str, tuple], modules) -> Dict[str, Set[str]]:
    """{module: package modules it imports}; an imported name resolves to its longest module
    prefix (``from align3r_ros.geometry import camera`` -> geometry.camera)."""
    edges = {}
    for name, imported in imports.items():
        targets = set()
        for target in imported:
            while target and target not in modules:
                target = target.rpartition('.')[0]
            if target and target != name:
                targets.add(target)
        edges[name] = targets
    return edges


def _cycles(edges: Mapping[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _component(module: str) -> str:
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def _in(folder: str) -> List[str]:
    """Modules of one folder of the package; a rule over an empty folder fails here."""
    names = [name for name in _modules() if name.startswith(f'align3r_ros.{folder}.')
             or name == f'align3r_ros.{folder}']
    assert names, f'no modules in align3r_ros/{folder}: the rule would check nothing'
    return names


def test_the_walk_covers_every_folder_and_the_known_modules():
    on_disk = {Path(root) for root, _, files in os.walk(PACKAGE)
               if any(f.endswith('.py') for f in files) and '__pycache__' not in root}
    walked = {path.parent for path in _modules().values()}
    assert walked == on_disk, sorted(str(p) for p in on_disk ^ walked)
    missing = [name for name in KNOWN_MODULES if name not in _modules()]
    assert not missing, f'modules the architecture names are missing: {missing}'
    assert len(_imports()) == len(_modules()) > 100


def test_only_the_ros_layer_imports_ros():
    ros = set(_in('ros'))
    offenders = [f'{name}: {imported}' for name, names in _imports().items() if name not in ros
                 for imported in names if imported.split('.')[0] in ROS_MODULES]
    assert not offenders, offenders
    # the detector sees the real ROS imports where they belong
    assert any(imported.split('.')[0] == 'rclpy' for name in ros for imported in _imports()[name])


def test_every_component_is_placed_in_a_layer_and_imports_only_downwards():
    rank = {component: level for level, members in enumerate(LAYERS) for component in members}
    components = {_component(name) for name in _modules()} - {''}
    unplaced = sorted(components - set(rank))
    assert not unplaced, f'place these package components in LAYERS: {unplaced}'
    absent = sorted(set(rank) - components)
    assert not absent, f'LAYERS names components that do not exist: {absent}'
    edges = _internal_edges(_imports(), _modules())
    offenders = []
    for name, targets in edges.items():
        source = _component(name)
        for target in targets:
            to = _component(target)
            if not source or not to or to == source:
                continue
            if rank[to] >= rank[source]:
                offenders.append(f'{name} -> {target}')
    assert not offenders, sorted(offenders)
    # non-vacuous: networks, align and backends have package imports to check
    assert all(edges[name] for name in ('align3r_ros.backends.oracle',
                                        'align3r_ros.align.objective',
                                        'align3r_ros.networks.pairwise.model'))


def test_the_layers_are_read_from_the_picture_in_the_docs():
    rank = {component: level for level, members in enumerate(LAYERS) for component in members}
    assert len(rank) == sum(len(layer) for layer in LAYERS), 'a component placed twice'
    assert len(LAYERS) >= 10 and LAYERS[0] == ('errors',) and 'tools' in LAYERS[-1]
    # the transports: the bag below the engine (it never imports it), the node above it
    assert rank['streams'] < rank['messages'] < rank['bag'] < rank['engine'] < rank['ros']
    assert rank['geometry'] == rank['streams'] and rank['networks'] == rank['evaluation']


def test_the_picture_parse_reads_boxes_not_descriptions():
    picture = """
 tools/  (entry points, -bench)
 benchmarks/  command-line entry points
        │ every layer below
        ▼
 ros/  (rclpy / *_msgs)      bag/  (rosbag2 (sqlite3, mcap)  reader/  writer/)
        ▼
 geometry/  (SE(3) / Sim(3))      streams/  nearest stamps
        ▼
 config_io.py  structures.py
"""
    assert parse_layers(picture) == (('config_io', 'structures'), ('geometry', 'streams'),
                                     ('ros', 'bag'), ('tools', 'benchmarks'))


def test_networks_and_align_never_import_each_other():
    offenders = []
    for source, forbidden in (('networks', 'align3r_ros.align'),
                              ('align', 'align3r_ros.networks')):
        offenders += [f'{name}: {imported}' for name in _in(source)
                      for imported in _imports()[name]
                      if imported == forbidden or imported.startswith(forbidden + '.')]
    assert not offenders, offenders


def test_bag_imports_neither_the_ros_layer_nor_the_engine_nor_evaluation():
    forbidden = ('align3r_ros.ros', 'align3r_ros.engine', 'align3r_ros.evaluation')
    offenders = [f'{name}: {imported}' for name in _in('bag') for imported in _imports()[name]
                 if '.'.join(imported.split('.')[:2]) in forbidden]
    assert not offenders, offenders


def test_geometry_imports_only_errors_numpy_and_scipy():
    """... and torch in ``geometry.torch_ops`` only, which the package root never imports."""
    allowed_roots = {'numpy', 'scipy', '__future__'}
    torch_ok = {'align3r_ros.geometry.torch_ops'}
    offenders = [f'{name}: {imported}' for name in _in('geometry')
                 for imported in _imports()[name]
                 if imported.split('.')[0] not in allowed_roots | set(sys.stdlib_module_names)
                 and not (name in torch_ok and imported.split('.')[0] == 'torch')
                 and not imported.startswith(('align3r_ros.geometry', 'align3r_ros.errors'))]
    assert not offenders, offenders
    assert not [i for i in _imports()['align3r_ros.geometry'] if i.startswith(tuple(torch_ok))]


def test_config_is_standard_library_only():
    allowed = {'align3r_ros', 'align3r_ros.errors', 'align3r_ros.config', '__future__',
               'yaml'}  # config_io reads YAML lazily, inside config_from_yaml_file only
    third_party = [imported for module in ('align3r_ros.config', 'align3r_ros.config_io')
                   for imported in _imports()[module]
                   if imported.rpartition('.')[0] not in allowed and imported not in allowed
                   and imported.split('.')[0] not in sys.stdlib_module_names]
    assert not third_party, third_party


def test_the_package_has_no_import_cycles():
    cycles = _cycles(_internal_edges(_imports(), _modules()))
    assert not cycles, cycles


def test_the_cycle_detector_finds_known_cycles():
    edges = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a', 'e'}, 'e': {'d'}, 'f': set()}
    assert sorted(_cycles(edges)) == [['a', 'b', 'c'], ['d', 'e']]
    # and the edge builder resolves ``from package import module`` and relative imports
    imports = {'p.x': ('p.y', 'p.y.f', 'p'), 'p.y': ('p.x.g',), 'p': ()}
    assert _cycles(_internal_edges(imports, frozenset(imports))) == [['p.x', 'p.y']]


def test_relative_imports_are_resolved(tmp_path):
    module = tmp_path / 'mod.py'
    module.write_text('from ..ros import node\nfrom . import sibling\n')
    assert _imports_of(module, 'align3r_ros.bag.mod') == [
        'align3r_ros.ros', 'align3r_ros.ros.node', 'align3r_ros.bag', 'align3r_ros.bag.sibling']


def test_importing_the_engine_pulls_in_no_ros():
    code = ('import sys, importlib\n'
            'import align3r_ros.config, align3r_ros.structures\n'
            'importlib.import_module("align3r_ros.engine.engine")\n'
            'bad = [m for m in sys.modules if m.split(".")[0] in %r]\n'
            'assert not bad, bad\n' % (ROS_MODULES,))
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr


def test_no_unsafe_deserialisation_in_the_package():
    offenders = []
    for path in _modules().values():
        text = path.read_text(encoding='utf-8')
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if 'torch.load(' in stripped and 'weights_only=True' not in stripped:
                offenders.append(f'{path.relative_to(PACKAGE)}:{number}')
            if stripped.startswith(('import pickle', 'from pickle')) or 'eval(' in stripped \
                    and 'model.eval(' not in stripped and '.eval()' not in stripped:
                offenders.append(f'{path.relative_to(PACKAGE)}:{number}: {stripped}')
    assert not offenders, offenders
