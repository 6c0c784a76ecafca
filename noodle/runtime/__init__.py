"""Run-time values and error values: what running Noodle code is made of (a leaf layer)."""
