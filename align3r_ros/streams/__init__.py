"""Stamped streams made into frames, below both transports: the bag reader (``bag/``), the
node's inputs (``ros/``), the dataset readers (``evaluation/``) and the map builder use it.

* ``association`` — pairing stamps across streams (nearest, one-to-one) and interpolating
  poses at image stamps; stamps are integer nanoseconds.
* ``depth`` — a depth image registered to its colour image, at the colour image's size.

numpy (scipy and OpenCV lazily) and ``errors`` only: no engine, no message types.
"""
