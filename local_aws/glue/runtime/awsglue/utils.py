"""getResolvedOptions: Glue's parser for the job arguments in sys.argv."""

from __future__ import annotations

import argparse

# Options Glue itself passes or reserves; a script may not ask for them by name.
RESERVED_OPTIONS = ("JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", "job-bookmark-option", "continuation-option")
BOOKMARK_CHOICES = ("job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable")
# Glue never requires these two, even when a script lists them.
OPTIONAL_TEMP_DIRS = ("TempDir", "RedshiftTempDir")


class GlueArgumentError(Exception):
    """A required job argument is missing or an argument has an invalid value."""


class _GlueArgumentParser(argparse.ArgumentParser):
    # argparse would print and sys.exit(2); Glue raises so the run fails with the message.
    def error(self, message: str):
        raise GlueArgumentError(message)


def getResolvedOptions(args: list[str], options: list[str]) -> dict[str, str | None]:
    """Parse `--NAME value` pairs from args (sys.argv) and return {NAME: value}.

    Every name in `options` is required (except TempDir/RedshiftTempDir); arguments not asked
    for are ignored. The result also holds JOB_ID, JOB_RUN_ID, TempDir, RedshiftTempDir and
    job_bookmark_option (default job-bookmark-disable), as on AWS Glue.
    """
    for name in options:
        if name in RESERVED_OPTIONS:
            raise RuntimeError(f"Using reserved arguments --{name}: Glue sets it; read it from the result instead")
    parser = _GlueArgumentParser(prog="getResolvedOptions", add_help=False)
    parser.add_argument("--job-bookmark-option", choices=BOOKMARK_CHOICES, default="job-bookmark-disable")
    for name in ("JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", *OPTIONAL_TEMP_DIRS):
        parser.add_argument(f"--{name}", required=False)
    for name in options:
        if name not in OPTIONAL_TEMP_DIRS:
            parser.add_argument(f"--{name}", required=True)
    parsed, _unknown = parser.parse_known_args(args[1:])
    resolved = vars(parsed)
    # Glue treats the two temp dirs as aliases of each other.
    resolved["TempDir"] = resolved["TempDir"] or resolved["RedshiftTempDir"]
    resolved["RedshiftTempDir"] = resolved["RedshiftTempDir"] or resolved["TempDir"]
    return resolved
