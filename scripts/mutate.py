"""Run mutmut on one critical module with the tests that exercise it: `make mutate MODULE=...`."""
from __future__ import annotations

import sys

from mutmut import configuration

MODULES: dict[str, list[str]] = {
    "noodle/vm/convert.py": ["tests/test_convert.py", "tests/test_embedding.py"],
}


def main() -> None:
    module = sys.argv[1]
    cfg = configuration.config()
    cfg.only_mutate = [module]
    cfg.pytest_add_cli_args_test_selection = MODULES[module]
    from mutmut.__main__ import cli

    cli(["run", *sys.argv[2:]])


if __name__ == "__main__":
    main()
