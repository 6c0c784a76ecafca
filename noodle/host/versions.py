"""Module versions compared by semantic-version precedence (semver.org, rule 11).

A live upgrade must not quietly take a module *back* to an older version: an older
release, even one correctly signed by a trusted key, can carry the bug a newer one
fixed, and replaying it is the classic rollback attack on signed updates.  The
embedding API therefore refuses a downgrade unless the host asks for it
(:meth:`noodle.VM.upgrade`'s ``allow_downgrade``); `vm.rollback()` stays the way back.
"""
from __future__ import annotations

import re

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


def precedence(version: str) -> tuple:
    """A key that orders versions as semantic versioning does: MAJOR.MINOR.PATCH numerically; a
    pre-release (`1.0.0-rc.1`) before its release, its dot-separated identifiers compared numerically
    when numeric (and before alphanumeric ones), else as text; build metadata (`+...`) ignored.
    A version that is not semantic (no header gives one: the checker refuses it) sorts as 0.0.0."""
    m = _VERSION.fullmatch(version)
    if m is None:
        return (0, 0, 0, 1, ())
    major, minor, patch, pre = m.groups()
    if pre is None:  # a release sorts after each of its pre-releases
        return (int(major), int(minor), int(patch), 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, ids)


def is_downgrade(running: str, new: str) -> bool:
    """Does replacing version `running` by `new` go back (an equal version is no downgrade)?"""
    return precedence(new) < precedence(running)
