"""The release version (a leaf: the toolchain fingerprint and `noodle --version` read it)."""

__version__ = "0.1.0"
