"""Where the project's files are, for tasks that ship them (scripts, SQL, datasets)."""

from __future__ import annotations

import os
from pathlib import Path

# plugins/labkit/core/paths.py -> repo root; override when the repo is mounted elsewhere.
PROJECT_ROOT = Path(os.environ.get("ADE_PROJECT_ROOT", Path(__file__).resolve().parents[3]))
GLUE_JOBS_DIR = PROJECT_ROOT / "glue_jobs"
SQL_DIR = PROJECT_ROOT / "sql"
DATA_DIR = Path(os.environ.get("ADE_DATA_DIR", PROJECT_ROOT / "data"))
LAMBDAS_DIR = PROJECT_ROOT / "lambdas"
