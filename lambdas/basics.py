"""Lambda lab 1: what a function sees at run time.

Returns (as JSON) the region from the AWS_REGION variable Lambda sets, the user environment
variable GREETING, and what the context object tells: function name and version, memory
limit, time left before the timeout, request id, log group and stream. Logs one line.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))


def handler(event, context):
    region = os.environ["AWS_REGION"]
    greeting = f"{os.environ.get('GREETING', 'Hello')}, {(event or {}).get('name', 'world')}!"
    result = {
        "greeting": greeting,
        "region": region,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": int(context.memory_limit_in_mb),
        "remaining_time_in_millis": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
    }
    logger.info(
        "%s from %s (%s MB) in %s, request %s",
        greeting,
        context.function_name,
        context.memory_limit_in_mb,
        region,
        context.aws_request_id,
    )
    return result
