"""The local AWS server: moto's threaded server with our executors installed."""

from __future__ import annotations

import logging
import os
import urllib.request

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from local_aws import config, registry


class LocalAWS:
    """One server on host:port (port 0 picks a free one). Executors share its settings."""

    def __init__(self, settings: config.Settings | None = None):
        self.settings = settings or config.Settings()
        self._server: ThreadedMotoServer | None = None

    @property
    def endpoint_url(self) -> str:
        return self.settings.endpoint_url

    def start(self) -> LocalAWS:
        config.settings = self.settings
        # AWS-managed policies (e.g. service-role/AWSGlueServiceRole) exist in every account.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        # werkzeug logs every request at INFO; keep the console for what matters unless asked.
        logging.getLogger("werkzeug").setLevel(logging.INFO if self.settings.log_requests else logging.WARNING)
        # sqlglot warns when it parses Athena's utility statements (SHOW, MSCK, UNLOAD) as commands: expected here.
        logging.getLogger("sqlglot").setLevel(logging.ERROR)
        registry.install()
        self._server = ThreadedMotoServer(ip_address=self.settings.host, port=self.settings.port, verbose=False)
        self._server.start()
        self.settings.port = self._server.get_host_and_port()[1]
        self.settings.work_dir.mkdir(parents=True, exist_ok=True)
        if self.settings.warm_spark:
            from local_aws.glue import jobs

            jobs.warm_up()
        return self

    def reset(self) -> None:
        """Forget every resource (moto's reset); executor state lives on moto's models and goes too."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=30).read()

    def stop(self) -> None:
        registry.shutdown()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalAWS:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
