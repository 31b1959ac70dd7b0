"""SQS event source mappings: a poller receives batches and invokes, as Lambda's pollers do.

moto 5.2.5 invokes the function from inside SendMessage, one message at a time, deletes on
success and makes a failed message visible at once. Here, as on AWS:
- the poller receives up to BatchSize messages (10 per ReceiveMessage), waiting up to
  MaximumBatchingWindowInSeconds for a full batch, within the 6 MB invocation payload limit;
  received messages are invisible for the queue's VisibilityTimeout while the function runs;
- the function is invoked synchronously with the batch; when it returns, the batch is deleted;
  when it fails, nothing is deleted and the messages reappear after the visibility timeout, so the
  queue's redrive policy moves them to its dead-letter queue after maxReceiveCount receives;
- FilterCriteria: messages matching none of the patterns (on body parsed as JSON, attributes, ...)
  are deleted without an invocation;
- FunctionResponseTypes ReportBatchItemFailures: only the messages listed in
  `batchItemFailures[].itemIdentifier` (message ids) stay; an identifier that is not in the
  batch fails the whole batch.
Differences from AWS: docs/local-aws/lambda-event-sources.md.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from typing import Any

from moto.sqs.models import Message, Queue, sqs_backends

from local_aws.lambda_.event_sources import delivery
from local_aws.lambda_.event_sources.mappings import Poller, parse_json, record_filter

log = logging.getLogger(__name__)

PAYLOAD_LIMIT = 6 * 1024 * 1024
RECEIVE_LIMIT = 10  # messages per ReceiveMessage


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda's SQS event spells it (camelCase, list fields present)."""
    converted: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")}
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        binary = value["BinaryValue"]
        converted["binaryValue"] = binary if isinstance(binary, str) else base64.b64encode(binary).decode()
    return converted


_sequence_lock = threading.Lock()
_last_sequence = [0]


def _sequence_number(queue: Queue, message: Message) -> str:
    """moto numbers FIFO messages only when sent with a MessageDeduplicationId; AWS numbers them all
    (growing): number the queued message once, so every receive of it reports the same."""
    with _sequence_lock:
        original = next((m for m in queue._messages if m.id == message.id), message)
        if original.sequence_number is None:
            _last_sequence[0] = max(_last_sequence[0] + 1, time.time_ns())
            original.sequence_number = f"{_last_sequence[0]:020d}"
        return original.sequence_number


def _filter_document(record: dict[str, Any]) -> dict[str, Any]:
    """What FilterCriteria patterns see of a message: its event record with the body parsed when JSON."""
    return {**record, "body": parse_json(record["body"])}


class SqsPoller(Poller):
    def _queue(self) -> Queue:
        for queue in list(sqs_backends[self.account_id][self.region].queues.values()):
            if queue.queue_arn == self.esm.event_source_arn:
                return queue
        raise LookupError(f"SQS queue {self.esm.event_source_arn} does not exist")

    def poll(self) -> bool:
        queue = self._queue()
        messages = self._receive(queue)
        if not messages:
            return False
        if self.stopped or not self.esm.enabled:  # deleted or disabled while gathering: let them go at once
            self._release(queue, messages)
            return False
        event = self._event(queue, messages)
        matches = record_filter(self.esm)
        if matches is not None:  # AWS deletes the messages no filter matches, without invoking
            kept = [(m, r) for m, r in zip(messages, event["Records"], strict=True) if matches(_filter_document(r))]
            self._delete_messages(queue, [m for m in messages if all(m is not k for k, _ in kept)])
            if not kept:
                return True
            messages, event = [m for m, _ in kept], {"Records": [r for _, r in kept]}
        outcome = delivery.invoke(self.account_id, self.region, self.esm.function_arn, event)
        self.esm.local.last_processing_result = outcome.processing_result
        failed = self._failed(outcome, messages)
        # Failed messages stay invisible until the visibility timeout ends, as on AWS.
        self._delete_messages(queue, [m for m in messages if m.id not in failed])
        return True

    def _delete_messages(self, queue: Queue, messages: list[Message]) -> None:
        backend = sqs_backends[self.account_id][self.region]
        for message in messages:
            try:
                backend.delete_message(queue.name, message.receipt_handle)
            except Exception as error:  # noqa: BLE001 (the queue may be gone or purged meanwhile)
                log.warning("Could not delete message %s from %s: %s", message.id, queue.name, error)

    def _receive(self, queue: Queue) -> list[Message]:
        backend = sqs_backends[self.account_id][self.region]
        limit = self.esm.batch_size
        window = self.esm.max_batch_window or 0
        visibility = int(queue.visibility_timeout)
        messages: list[Message] = []
        size = 0
        started = None
        while len(messages) < limit and not self.stopped:
            count = min(RECEIVE_LIMIT, limit - len(messages))
            received = backend.receive_message(queue.name, count, 0, visibility, message_attribute_names=["All"])
            for message in received:
                size += len(message.body) + 1024
                if size > PAYLOAD_LIMIT and messages:  # over the payload limit: back to the queue for the next batch
                    self._release(queue, [message])
                    return messages
                messages.append(message)
            if messages and started is None:
                started = time.monotonic()
            if not messages or not window or time.monotonic() - started >= window:
                break
            if not received:
                self.sleep(min(0.2, window))
        return messages

    def _release(self, queue: Queue, messages: list[Message]) -> None:
        backend = sqs_backends[self.account_id][self.region]
        for message in messages:
            try:
                backend.change_message_visibility(queue.name, message.receipt_handle, 0)
            except Exception:  # noqa: BLE001,S110 (gone already: nothing to give back)
                pass

    def _event(self, queue: Queue, messages: list[Message]) -> dict[str, Any]:
        records = []
        for message in messages:
            attributes = {
                "ApproximateReceiveCount": str(message.approximate_receive_count),
                "SentTimestamp": str(message.sent_timestamp),
                "SenderId": message.sender_id,
                "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
            }
            if queue.fifo_queue:
                attributes.update(
                    SequenceNumber=message.sequence_number or _sequence_number(queue, message),
                    MessageGroupId=message.group_id,
                    MessageDeduplicationId=message.deduplication_id,
                )
            trace = (message.system_attributes or {}).get("AWSTraceHeader")
            if trace:
                attributes["AWSTraceHeader"] = trace.get("StringValue")
            record = {
                "messageId": message.id,
                "receiptHandle": message.receipt_handle,
                "body": message.body,
                "attributes": attributes,
                "messageAttributes": {k: _attribute(v) for k, v in message.message_attributes.items()},
                "md5OfBody": message.body_md5,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.queue_arn,
                "awsRegion": self.region,
            }
            if message.message_attributes:
                record["md5OfMessageAttributes"] = message.attribute_md5
            records.append(record)
        return {"Records": records}

    def _failed(self, outcome: delivery.Outcome, messages: list[Message]) -> set[str]:
        """Ids of the messages to keep: all on a function error, the reported ones on a partial failure."""
        everything = {m.id for m in messages}
        if outcome.error is not None:
            return everything
        if "ReportBatchItemFailures" not in (self.esm.function_response_types or []):
            return set()
        failures = outcome.response.get("batchItemFailures") if isinstance(outcome.response, dict) else None
        if not failures:
            return set()
        try:
            reported = {str(item["itemIdentifier"]) for item in failures}
        except (KeyError, TypeError):
            return everything
        return reported if reported <= everything else everything  # an unknown id fails the whole batch
