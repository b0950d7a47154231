"""Offline alignment of a whole sequence: hierarchical (clips + keyframes) or flat."""
