"""The pool of execution environments (environments.py) of this server.

The pool keeps environments per function version:
- an invocation takes an idle environment of its version whose configuration is current, or
  starts a new one (up to settings.lambda_max_environments across all functions; beyond that an
  idle environment of another function is stopped, or the invocation waits for one);
- ReservedConcurrentExecutions caps a function's busy environments: beyond it Invoke is
  throttled (TooManyRequestsException, 429) as on AWS;
- a timeout or a crash kills the environment (the next invocation starts a fresh one); a
  handler's exception does not: AWS's Python runtime reports it and keeps serving, and so do we;
- code or configuration updates retire the function's environments (in-flight invocations finish
  first), idle environments are stopped after settings.lambda_idle_seconds, and /moto-api/reset
  or shutdown stops them all.
"""

from __future__ import annotations

import threading
import time

from moto.awslambda.models import LambdaFunction

from local_aws import config
from local_aws.lambda_.environments import Environment, environment_key, fingerprint
from local_aws.lambda_.execution_role import CREDENTIALS_SECONDS
from local_aws.lambda_.invoke import InvokeError

MAX_ENVIRONMENT_AGE = CREDENTIALS_SECONDS - 600


class Pool:
    """All execution environments of this server."""

    def __init__(self):
        self._cond = threading.Condition()
        self._environments: list[Environment] = []
        self._closed = False
        self._reaper = threading.Thread(target=self._reap, name="lambda-env-reaper", daemon=True)
        self._reaper.start()

    def acquire(self, function: LambdaFunction) -> tuple[Environment, bool, list[tuple[int, str]]]:
        """An environment for one invocation: (environment, cold start?, Init log lines)."""
        key, current = environment_key(function), fingerprint(function)
        to_stop: list[Environment] = []
        # Wait for a free environment at most as long as the function may run (a handler invoking
        # another function synchronously must not wait forever for an environment it holds).
        waited_seconds = max(float(function.timeout), 3.0)
        give_up = time.monotonic() + waited_seconds
        try:
            with self._cond:
                while True:
                    if self._closed:
                        raise InvokeError("ServiceException", "local AWS is shutting down", 503)
                    self._check_reserved_concurrency(function)
                    stale = [env for env in self._environments if env.key == key and env.fingerprint != current]
                    for env in stale:
                        to_stop += self._retire(env)
                    idle = [
                        env
                        for env in self._environments
                        if env.key == key
                        and not env.busy
                        and not env.retired
                        and env.alive
                        and time.monotonic() - env.created < MAX_ENVIRONMENT_AGE
                        and time.monotonic() - env.last_used <= config.settings.lambda_idle_seconds  # else being reaped
                    ]
                    if idle:
                        env = max(idle, key=lambda candidate: candidate.last_used)
                        env.busy = True
                        cold = False
                        break
                    if len(self._environments) < config.settings.lambda_max_environments:
                        env = Environment(function)
                        self._environments.append(env)
                        cold = True
                        break
                    others_idle = [env for env in self._environments if not env.busy]
                    if others_idle:
                        to_stop += self._retire(min(others_idle, key=lambda candidate: candidate.last_used))
                        continue
                    if time.monotonic() > give_up:
                        raise InvokeError(
                            "TooManyRequestsException",
                            f"Rate Exceeded. All {config.settings.lambda_max_environments} execution environments of "
                            f"local AWS stayed busy for {waited_seconds:g} s; raise --lambda-max-environments",
                            429,
                        )
                    self._cond.wait(timeout=1.0)
        finally:
            # Retired on the way (stale or evicted): stopped even when no environment was found.
            for old in to_stop:
                old.stop()
        if not cold:
            return env, False, []
        try:
            lines = env.start()
        except BaseException:
            self.release(env, keep=False)
            raise
        return env, True, lines

    def _check_reserved_concurrency(self, function: LambdaFunction) -> None:
        reserved = function.reserved_concurrency
        if reserved is None:
            return
        busy = sum(
            1
            for env in self._environments
            if env.busy and env.key[:3] == (function.account_id, function.region, function.function_name)
        )
        if busy >= int(reserved):
            raise InvokeError(
                "TooManyRequestsException",
                f"Rate Exceeded. Function {function.function_name} has ReservedConcurrentExecutions {reserved} and "
                f"{busy} invocation(s) running",
                429,
            )

    def _retire(self, env: Environment) -> list[Environment]:
        """Mark env retired; returns it (to stop outside the lock) when idle, else its invocation stops it."""
        env.retired = True
        if env.busy:
            return []
        self._environments.remove(env)
        return [env]

    def release(self, env: Environment, keep: bool) -> None:
        with self._cond:
            env.busy = False
            env.last_used = time.monotonic()
            stop = not keep or env.retired or not env.alive or self._closed
            if stop and env in self._environments:
                self._environments.remove(env)
            self._cond.notify_all()
        if stop:
            env.stop()

    def retire(self, predicate, kill_busy: bool = False) -> None:
        """Retire every environment predicate(env) selects; kill_busy stops running invocations too."""
        with self._cond:
            chosen = [env for env in self._environments if predicate(env)]
            to_stop, to_kill = [], []
            for env in chosen:
                if kill_busy and env.busy:
                    env.retired = True
                    to_kill.append(env)  # its invocation sees the worker exit, then releases and stops it
                else:
                    to_stop += self._retire(env)
            self._cond.notify_all()
        for env in to_kill:
            env.kill()
        for env in to_stop:
            env.stop()

    def environments(self) -> list[Environment]:
        with self._cond:
            return list(self._environments)

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            everything, self._environments = self._environments, []
            self._cond.notify_all()
        for env in everything:
            env.stop()
        self._reaper.join(timeout=5)

    def _reap(self) -> None:
        while True:
            with self._cond:
                interval = min(1.0, max(config.settings.lambda_idle_seconds / 4, 0.05))
                if self._cond.wait_for(lambda: self._closed, timeout=interval):
                    return
                now = time.monotonic()
                expired = [
                    env
                    for env in self._environments
                    if not env.busy
                    and (
                        now - env.last_used > config.settings.lambda_idle_seconds
                        or now - env.created > MAX_ENVIRONMENT_AGE
                    )
                ]
                for env in expired:
                    self._environments.remove(env)
            for env in expired:
                env.stop()
