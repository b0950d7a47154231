"""The Align3R / DUSt3R pairwise point-map network (see :mod:`.model` for the API)."""

from __future__ import annotations
