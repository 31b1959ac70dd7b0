"""Local AWS's clock: real time plus an offset that users and tests move forward.

AWS does some work on its own schedule, days after a request: S3 lifecycle rules move objects
to colder storage classes 30 or 60 days after they were written and expire them after a year.
Locally nobody waits a month, so local AWS keeps its own clock. Moving it forward (never back)
lets time-driven executors catch up at once, as AWS would have over those days:

    POST /_local_aws/clock  {"advance_days": 31}   -> the new time and what each executor did
    GET  /_local_aws/clock                          -> the current local time and the offset
    python -m local_aws.clock advance --days 31     (the same over HTTP, from a shell)

The admin endpoint lives on the server's own port under /_local_aws/ (moto's own admin API
lives under /moto-api/; S3 bucket names cannot contain "_", so no bucket request is taken).
moto's reset (POST /moto-api/reset) puts the clock back to real time.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.moto_api._internal.models import MotoAPIBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from werkzeug.wrappers import Request, Response

from local_aws.patching import Patches

ADMIN_PREFIX = "/_local_aws/"
CLOCK_PATH = "/_local_aws/clock"

# Called with (previous now, new now) after the clock moved; returns a JSON-able summary.
Listener = Callable[[datetime, datetime], Any]

_lock = threading.RLock()
_offset = timedelta(0)
_listeners: dict[str, Listener] = {}
_reset_listeners: dict[str, Callable[[], None]] = {}

patches = Patches(__name__)


def now() -> datetime:
    """The local AWS time, timezone-aware UTC."""
    return datetime.now(UTC) + _offset


def utcnow_naive() -> datetime:
    """The local AWS time as moto keeps its timestamps: naive UTC."""
    return now().replace(tzinfo=None)


def offset() -> timedelta:
    return _offset


def on_advance(name: str, listener: Listener) -> None:
    """Run listener(previous, new) each time the clock moves forward (also real time's daily ticks)."""
    _listeners[name] = listener


def on_reset(name: str, listener: Callable[[], None]) -> None:
    _reset_listeners[name] = listener


def notify(previous: datetime, current: datetime) -> dict[str, Any]:
    """Let every listener catch up from previous to current; returns their summaries by name."""
    with _lock:
        return {name: listener(previous, current) for name, listener in list(_listeners.items())}


def advance(days: float = 0, seconds: float = 0) -> dict[str, Any]:
    """Move the clock forward; listeners do what AWS would have done meanwhile. Returns state + summaries."""
    delta = timedelta(days=days, seconds=seconds)
    if delta < timedelta(0):
        raise ValueError(f"the clock only moves forward; got {days} days {seconds} seconds")
    global _offset
    with _lock:
        previous = now()
        _offset += delta
        done = notify(previous, now())
    return {**state(), "done": done}


def reset() -> None:
    """Back to real time (moto's reset calls this)."""
    global _offset
    with _lock:
        _offset = timedelta(0)
        for listener in list(_reset_listeners.values()):
            listener()


def state() -> dict[str, Any]:
    current = now()
    return {
        "now": current.isoformat(),
        "offset_seconds": _offset.total_seconds(),
        "offset_days": _offset.total_seconds() / 86400,
    }


# --- the admin endpoint


def _clock_endpoint(request: Request) -> Response:
    if request.method == "GET":
        return _json(200, state())
    if request.method != "POST":
        return _json(405, {"error": f"{request.method} {CLOCK_PATH}: use GET to read the clock or POST to advance it"})
    try:
        body = json.loads(request.get_data() or b"{}")
        days = float(body.get("advance_days", 0))
        seconds = float(body.get("advance_seconds", 0))
        if not (days or seconds):
            raise ValueError('give "advance_days" and/or "advance_seconds", e.g. {"advance_days": 31}')
        return _json(200, advance(days=days, seconds=seconds))
    except (ValueError, TypeError, AttributeError) as error:
        return _json(400, {"error": f"POST {CLOCK_PATH}: {error}"})


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def admin_app(environ: dict[str, Any], start_response: Callable) -> Any:
    """WSGI app for /_local_aws/*."""
    request = Request(environ)
    if request.path.rstrip("/") == CLOCK_PATH:
        response = _clock_endpoint(request)
    else:
        response = _json(404, {"error": f"no local AWS admin endpoint {request.path}; try {CLOCK_PATH}"})
    return response(environ, start_response)


@patches.wrap(DomainDispatcherApplication, "__call__")
def _dispatch(original, self, environ: dict[str, Any], start_response: Callable) -> Any:
    """Route /_local_aws/* to the admin app ahead of moto's dispatcher."""
    if environ.get("PATH_INFO", "").startswith(ADMIN_PREFIX):
        return admin_app(environ, start_response)
    return original(self, environ, start_response)


@patches.wrap(MotoAPIBackend, "reset")
def _reset_with_clock(original, self) -> None:
    """moto's reset (POST /moto-api/reset) puts the clock back to real time too."""
    original(self)
    reset()


# --- CLI: python -m local_aws.clock


def request_clock(endpoint_url: str, advance_days: float | None = None, timeout: float = 600) -> dict[str, Any]:
    """Read (or advance) the clock of the local AWS at endpoint_url over HTTP."""
    url = endpoint_url.rstrip("/") + CLOCK_PATH
    if advance_days is None:
        request = urllib.request.Request(url)
    else:
        body = json.dumps({"advance_days": advance_days}).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def main(argv: list[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(
        prog="python -m local_aws.clock",
        description="Read or advance the clock of a running local AWS (S3 lifecycle rules run as days pass).",
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        help="local AWS endpoint (default: $AWS_ENDPOINT_URL or %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="print the local time and the offset from real time")
    advance_parser = commands.add_parser("advance", help="move the clock forward and run what falls due")
    advance_parser.add_argument("--days", type=float, required=True, help="days to move forward")
    args = parser.parse_args(argv)
    result = request_clock(args.endpoint_url, args.days if args.command == "advance" else None)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
