"""Lambda lab 2: log every SNS message the function receives to CloudWatch Logs.

SNS invokes the function with one record per message (`Records[].Sns`); each is logged as
one line with its subject, message id, topic and text. Returns how many were logged.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))


def handler(event, context):
    count = 0
    for record in event.get("Records", []):
        if record.get("EventSource") != "aws:sns":
            logger.warning("Skipping a record that is not from SNS: %s", record.get("EventSource"))
            continue
        sns = record["Sns"]
        logger.info(
            "SNS message %s on %s, subject %r: %s",
            sns["MessageId"],
            sns["TopicArn"],
            sns.get("Subject"),
            sns["Message"],
        )
        count += 1
    return {"count": count}
