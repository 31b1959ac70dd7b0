"""The Python runtime inside one execution environment (run as a script; standard library only).

local_aws/lambda_/environments.py starts `python -u bootstrap.py` with the function's environment
variables, cwd = the code directory, and two pipe descriptors named in _LOCAL_AWS_LAMBDA_FDS:
requests arrive on the first, results leave on the second, one JSON document per line.
stdout and stderr are the function's log: print() and the logging root handler (formatted as
AWS's runtime does) go there, and after each invocation a record-separator line (\\x1e + id)
tells the server that the invocation's output is complete.

Like AWS's runtime (awslambdaric), it imports the handler's module once (Init), reports import
errors as Runtime.ImportModuleError / Runtime.UserCodeSyntaxError / Runtime.HandlerNotFound /
Runtime.MalformedHandlerName, and serves invocations until it is killed; module state survives
between invocations, including after the handler raised.

The function's modules are compiled under the paths they have on AWS (/var/task/<module>.py for
the code, /opt/... for layers), so every traceback (the error document's stackTrace, the error
log line, logging.exception) shows those paths, as on AWS. With AWS_LAMBDA_LOG_FORMAT=JSON
(LoggingConfig LogFormat JSON) logging records and the error log are JSON objects, as AWS's
runtime writes them; print() output stays plain text.
"""

import importlib
import importlib.machinery
import json
import logging
import os
import resource
import sys
import time
import traceback

SEPARATOR = "\x1e"
_current_request_id = ""
JSON_FORMAT = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
INDENT = "\u00a0"  # AWS's runtime indents a logged stack trace with no-break spaces
_aws_roots: dict[str, str] = {}  # directory on this machine -> its path on AWS


class FaultError(Exception):
    """An error of the runtime itself (bad handler, import failure), with AWS's error type."""

    def __init__(self, error_type, message, stack=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack or []


class LambdaLogHandler(logging.Handler):
    """AWS's root handler: one line per record, newlines as \\r so a record stays one log event."""

    def emit(self, record):
        try:
            message = self.format(record).replace("\n", "\r")
            sys.stdout.write(message + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _current_request_id
        return True


class JsonFormatter(logging.Formatter):
    """A record as AWS's runtime writes it with LogFormat JSON: timestamp, level, message, logger, requestId, ..."""

    RESERVED = set(vars(logging.makeLogRecord({}))) | {"aws_request_id", "message"}

    def __init__(self):
        super().__init__(datefmt="%Y-%m-%dT%H:%M:%SZ")

    def format(self, record):
        level = min(50, max(0, record.levelno)) // 10 * 10
        document = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": logging.getLevelName(level),
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None) or None,
        }
        if record.exc_info:
            document.update(
                stackTrace=traceback.format_tb(record.exc_info[2]),
                errorType=record.exc_info[0].__name__,
                errorMessage=str(record.exc_info[1]),
                location=f"{record.pathname}:{record.funcName}:{record.lineno}",
            )
        document.update((key, value) for key, value in vars(record).items() if key not in self.RESERVED)
        return json.dumps({key: value for key, value in document.items() if value is not None}, default=str)


def _setup_logging():
    if JSON_FORMAT:
        formatter = JsonFormatter()
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
        )
    formatter.converter = time.gmtime
    handler = LambdaLogHandler()
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = "DEBUG" if level == "TRACE" else level  # Lambda's TRACE has no Python level
    if level in logging.getLevelNamesMapping():
        root.setLevel(level)


def _stack(tb, skip=0):
    return traceback.format_list(traceback.extract_tb(tb)[skip:])


def _log_error(error_type, message, stack, request_id=""):
    """The runtime's log line for an error: one event, text or JSON as the log format says."""
    if JSON_FORMAT:
        document = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "log_level": "ERROR",
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": stack,
        }
        sys.stdout.write(json.dumps(document) + "\n")
        sys.stdout.flush()
        return
    lines = [f"[ERROR] {error_type}: {message}"]
    if stack:
        lines.append("Traceback (most recent call last):")
        for frame in stack:
            lines += [INDENT * (len(line) - len(line.lstrip(" "))) + line.lstrip(" ") for line in frame.splitlines()]
    sys.stdout.write("\r".join(lines).replace("\n", "\r") + "\n")
    sys.stdout.flush()


# ---- the function's code under its AWS paths ----


def _aws_path(path):
    for root, aws in _aws_roots.items():
        if path == root or path.startswith(root + os.sep):
            return aws + path[len(root) :]
    return path


class AwsPathLoader(importlib.machinery.SourceFileLoader):
    """Compiles a module of the function's code under its AWS path (no bytecode cache: that would keep ours).

    Source lines still show in tracebacks: linecache asks this loader (get_source) for them."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        return compile(self.get_data(path), _aws_path(os.path.realpath(path)), "exec", dont_inherit=True)


def _use_aws_paths(task_root, layer_paths):
    """Modules under the task root compile as /var/task/..., under a layer as /opt/... (AWS's mounts)."""
    _aws_roots[os.path.realpath(task_root)] = "/var/task"
    for path in layer_paths:  # <layer>/python or <layer>/python/lib/pythonX.Y/site-packages
        _aws_roots[os.path.realpath(path.split(os.sep + "python", 1)[0])] = "/opt"
    finder = importlib.machinery.FileFinder.path_hook(
        (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
        (AwsPathLoader, importlib.machinery.SOURCE_SUFFIXES),
        (importlib.machinery.SourcelessFileLoader, importlib.machinery.BYTECODE_SUFFIXES),
    )

    def hook(path):
        real = os.path.realpath(path or os.getcwd())
        if _aws_path(real) == real:
            raise ImportError("not the function's code")  # the next hook (Python's own) takes it
        return finder(path)

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.clear()


def load_handler(spec):
    try:
        module_path, function_name = spec.rsplit(".", 1)
    except ValueError as error:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {error}") from None
    try:
        module = importlib.import_module(module_path.replace("/", "."))
    except ImportError as error:
        raise FaultError("Runtime.ImportModuleError", f"Unable to import module '{module_path}': {error}") from None
    except SyntaxError as error:
        raise FaultError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_path}': {error}") from None
    except Exception as error:
        raise FaultError(type(error).__name__, str(error), _stack(error.__traceback__, skip=1)) from None
    handler = getattr(module, function_name, None)
    if handler is None:
        raise FaultError("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_path}'")
    return handler


class CognitoIdentity:
    def __init__(self, identity):
        identity = identity or {}
        self.cognito_identity_id = identity.get("cognitoIdentityId")
        self.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId")


class Client:
    def __init__(self, client):
        self.installation_id = client.get("installation_id")
        self.app_title = client.get("app_title")
        self.app_version_name = client.get("app_version_name")
        self.app_version_code = client.get("app_version_code")
        self.app_package_name = client.get("app_package_name")


class ClientContext:
    def __init__(self, context):
        self.client = Client(context["client"]) if context.get("client") else None
        self.custom = context.get("custom")
        self.env = context.get("env")


class LambdaContext:
    """The handler's context argument, with the fields and method of AWS's Python runtime."""

    def __init__(self, request):
        self.aws_request_id = request["requestId"]
        self.invoked_function_arn = request["invokedFunctionArn"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a string, as on AWS
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = ClientContext(request["clientContext"]) if request.get("clientContext") else None
        self.identity = CognitoIdentity(request.get("identity"))
        self._deadline_ms = request["deadlineMs"]

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)

    def log(self, message):
        sys.stdout.write(message)
        sys.stdout.flush()


def _end_of_output(tag):
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, f"{SEPARATOR}{tag}\n".encode())


def _max_rss_kb():
    """Peak resident memory of this process. ru_maxrss would survive the exec from the server's own
    (large) process, so Linux's VmHWM, which starts afresh with the new program, comes first."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def invoke(handler, request):
    """Run one invocation: ('result', json text) or ('error', error document)."""
    global _current_request_id
    _current_request_id = request_id = request["requestId"]
    try:
        event = json.loads(request["payload"])
        result = handler(event, LambdaContext(request))
    except Exception as error:
        stack = _stack(error.__traceback__, skip=1)  # without this frame, as AWS's runtime hides its own
        _log_error(type(error).__name__, str(error), stack, request_id)
        return "error", {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": request_id,
            "stackTrace": stack,
        }
    try:
        return "result", json.dumps(result)
    except (TypeError, ValueError, OverflowError) as error:
        message = f"Unable to marshal response: {error}"
        _log_error("Runtime.MarshalError", message, [], request_id)
        return "error", {
            "errorMessage": message,
            "errorType": "Runtime.MarshalError",
            "requestId": request_id,
            "stackTrace": [],
        }


def main():
    request_fd, response_fd = (int(fd) for fd in os.environ.pop("_LOCAL_AWS_LAMBDA_FDS").split(","))
    layer_paths = [path for path in os.environ.pop("_LOCAL_AWS_LAMBDA_PATHS", "").split(os.pathsep) if path]
    requests = os.fdopen(request_fd, "rb")
    responses = os.fdopen(response_fd, "wb", buffering=0)

    def send(message):
        responses.write(json.dumps(message).encode() + b"\n")

    # As on AWS: the task root first, then the layers, then the runtime's own packages.
    sys.path[0:1] = [os.environ["LAMBDA_TASK_ROOT"], *layer_paths]
    _use_aws_paths(os.environ["LAMBDA_TASK_ROOT"], layer_paths)
    _setup_logging()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except FaultError as fault:
        _log_error(fault.error_type, fault.message, fault.stack)
        _end_of_output("init")
        send(
            {
                "type": "init",
                "error": {"errorMessage": fault.message, "errorType": fault.error_type, "stackTrace": fault.stack},
            }
        )
        return
    _end_of_output("init")
    send({"type": "init"})

    for line in requests:
        request = json.loads(line)
        kind, body = invoke(handler, request)
        _end_of_output(request["requestId"])
        send({"type": kind, "body": body, "maxRssKb": _max_rss_kb()})


if __name__ == "__main__":
    main()
