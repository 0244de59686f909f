"""Transports run argv lists and move files, locally or over SSH."""
