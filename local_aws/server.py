"""The local AWS server: moto's threaded server with our executors installed."""

from __future__ import annotations

import logging
import os
import urllib.request

from moto.backends import list_of_moto_modules
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from local_aws import config, registry, tls, workers


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, except that it lists moto's package folder once rather than twice per request.

    moto 5.2.5 checks whether the Host header names a backend by listing its package folder and
    stat-ing each of its ~180 entries, on every request: about a third of the server's time for a small
    S3 request (HEAD, LIST, a small PUT). The folder does not change while the server runs.
    """

    _backend_names = frozenset(list_of_moto_modules())

    def get_backend_for_host(self, host: str | None):
        if host is None or host == "moto_api" or host in self._backend_names:
            return host
        for backend, pattern in self.backend_url_patterns:
            if pattern.match(f"http://{host}"):
                return backend
        return None


class _MotoServer(ThreadedMotoServer):
    """moto's threaded server on our DualProtocolServer: HTTP and, when tls_context is set, HTTPS on one port."""

    def __init__(self, ip_address: str, port: int, tls_context=None):
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self._tls_context = tls_context

    def _server_entry(self) -> None:
        app = _Dispatcher(create_backend_app)
        self._server = tls.DualProtocolServer(self._ip_address, self._port, app, handler=tls.TransportAwareHandler)
        self._server.tls_context = self._tls_context
        self._server_ready_event.set()
        self._server.serve_forever()


class LocalAWS:
    """One server on host:port (port 0 picks a free one). Executors share its settings."""

    def __init__(self, settings: config.Settings | None = None):
        self.settings = settings or config.Settings()
        self.workers = workers.Workers()  # what keeps running between requests (see local_aws/workers.py)
        self._server: _MotoServer | None = None

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
        # python-mysql-replication warns on every connection when binlog_row_metadata is not FULL; DMS's reader
        # maps columns by position then (local_aws/dms/source_mysql.py), as DMS needs no such setting.
        logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)
        if self.workers.closed:  # started again after stop()
            self.workers = workers.Workers()
        registry.install(self.workers)
        self.settings.work_dir.mkdir(parents=True, exist_ok=True)
        tls_context = None
        if self.settings.tls:
            _, cert, key = tls.ensure_certificate(self.settings.ca_bundle.parent, self.settings.host)
            tls_context = tls.server_context(cert, key)
        self._server = _MotoServer(self.settings.host, self.settings.port, tls_context)
        self._server.start()
        self.settings.port = self._server.get_host_and_port()[1]
        if self.settings.warm_spark:
            from local_aws.glue import job_runner

            job_runner.warm_up()
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
