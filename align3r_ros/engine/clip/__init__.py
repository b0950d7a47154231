"""Clip mode: frames wait for their clip, which is aligned once it completes."""
