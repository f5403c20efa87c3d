"""Run one CARS configuration in this process: ``python -m ai4geo_lab.stereo.cars_run CONFIG.json``.

This is CARS's own command line (``cars.cars.main_cli``) with one guard: CARS 1.3 writes a profiling summary after
each pipeline stage and crashes (``could not convert string to float: 'None'``) when its memory-monitor thread
answered late, which happens on busy machines, before the DSM is formatted. The summary is only a report, so a
failure to write it is logged instead of ending the run. Everything else (and every other error) is CARS's.
The exit code is CARS's: 0 on success, 1 on error.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any


def _guard_profiling_summary() -> None:
    from cars.core.cars_logging import logger
    from cars.orchestrator.cluster import log_wrapper

    original = log_wrapper.generate_summary
    if getattr(original, "_ai4geo_guarded", False):
        return

    @functools.wraps(original)
    def summary(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except (ValueError, KeyError, IndexError) as exc:
            logger.warning(f"profiling summary not written ({exc})")
            return None

    summary._ai4geo_guarded = True  # type: ignore[attr-defined]
    log_wrapper.generate_summary = summary


def main(argv: list[str] | None = None) -> int:
    """Run CARS on a configuration file; returns CARS's exit code."""
    parser = argparse.ArgumentParser("ai4geo_lab.stereo.cars_run")
    parser.add_argument("conf")
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)
    from cars import cars as cars_cli

    _guard_profiling_summary()
    cli_args = argparse.Namespace(conf=args.conf, loglevel=args.loglevel, check=False, logtype="plain")
    try:
        cars_cli.main_cli(cli_args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
