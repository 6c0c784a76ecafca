"""The module-file format: opcodes, the .nbc layout, structural limits, hashes, cache files."""
