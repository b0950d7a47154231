"""Helpers shared by the tests, imported as ``support.<module>``.

``test/`` is on ``sys.path`` through pytest.ini's ``pythonpath``; scripts that run as their own
process (``test/ros/node_process.py``) put it there themselves. No test imports a sibling file
through the folder pytest happens to insert.
"""
