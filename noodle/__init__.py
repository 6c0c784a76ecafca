"""Noodle: a small statically typed language with its own bytecode VM."""
__version__ = "0.1.0"
