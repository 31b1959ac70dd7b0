"""
### Lambda lab 2: log SNS messages to CloudWatch

The course's second Lambda lab: an SNS topic triggers `lambdas/sns_logger.py`, which logs every
message it receives; the message is then found in CloudWatch Logs.

1. **Setup**: the code bucket with the deployment package, an execution role with
   `AWSLambdaBasicExecutionRole` only, the function (Python 3.11, 128 MB, 10 s), Active.
2. **Trigger**: an SNS topic, the function's resource policy letting `sns.amazonaws.com` invoke
   it for that topic only (`AddPermission` with the topic as `SourceArn`), and the function
   subscribed to the topic (protocol `lambda`).
3. **Publish** a message (params `subject`, `message`) with the provider's `SnsPublishOperator`;
   SNS invokes the function asynchronously.
4. **CloudWatch Logs**: wait until the line with the published message's id is in the log group
   `/aws/lambda/<function>`, then **validate** that it carries the subject and the text.
5. **Teardown** (param `teardown`): topic (and its subscription), function, log group, code
   bucket, role.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.sns import SnsPublishOperator
from airflow.sdk import Param, chain, task

from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.labs import aws_lambda as lab
from labkit.operators.lambda_function import LambdaAddPermissionOperator
from labkit.operators.logs import CloudWatchLogsTextSensor
from labkit.operators.sns import SnsCreateTopicOperator, SnsDeleteTopicOperator, SnsSubscribeOperator

FUNCTION = "{{ names.resource('sns-logger') }}"
TOPIC = "{{ names.resource('messages') }}"
MESSAGE_ID = "{{ ti.xcom_pull(task_ids='publish_message')['MessageId'] }}"

with lab_dag(
    "lambda_lab2_sns_cloudwatch",
    lab="lambda-lab2",
    description="Lambda lab 2: an SNS topic triggers a function that logs each message to CloudWatch Logs",
    doc_md=__doc__,
    tags=["lambda", "sns", "cloudwatch-logs"],
    params={
        "subject": Param("Lambda lab 2", type="string", description="Subject of the published message"),
        "message": Param(
            "Flight UA 1545 EWR-IAH departed 2 minutes late", type="string", description="The published message"
        ),
    },
) as dag:
    # --- setup: code bucket and package, execution role, the function (created or updated), Active
    create_function, wait_for_function_active = lab.setup(
        function=FUNCTION,
        module="sns_logger",
        description="Lambda lab 2: log SNS messages to CloudWatch Logs",
        timeout=10,
        memory_mb=128,
    )

    # --- trigger: topic, permission for SNS, subscription
    create_topic = SnsCreateTopicOperator(task_id="create_topic", topic_name=TOPIC)
    allow_sns_to_invoke = LambdaAddPermissionOperator(
        task_id="allow_sns_to_invoke",
        function_name=FUNCTION,
        statement_id="sns-invoke",
        principal="sns.amazonaws.com",
        source_arn=create_topic.output,
    )
    subscribe_function = SnsSubscribeOperator(
        task_id="subscribe_function", topic_arn=create_topic.output, protocol="lambda", endpoint=create_function.output
    )

    # --- work: publish, find the message in the function's log group
    publish_message = SnsPublishOperator(
        task_id="publish_message",
        target_arn=create_topic.output,
        subject="{{ params.subject }}",
        message="{{ params.message }}",
    )
    wait_for_logged_message = CloudWatchLogsTextSensor(
        task_id="wait_for_logged_message",
        log_group=lab.log_group(FUNCTION),
        texts=[f"SNS message {MESSAGE_ID} "],
        start_time="{{ dag_run.start_date }}",  # only this run's lines: no paging through older runs' logs
        poke_interval=2,
        timeout=300,
    )

    # --- checks
    @task
    def validate(logged: dict, topic_arn: str, subscription_arn: str, params: dict) -> dict:
        """The logged line carries the published subject and message; the subscription is the function's."""
        from airflow.providers.amazon.aws.hooks.sns import SnsHook

        from labkit.core.validation import ValidationError

        (lines,) = logged.values()  # SNS delivers at least once: a rare duplicate is a second, equal line
        expected = f" on {topic_arn}, subject {params['subject']!r}: {params['message']}"
        wrong = [line for line in lines if not line.endswith(expected)]
        if wrong:
            raise ValidationError(f"Lambda lab 2: logged {wrong[0]!r}, expected it to end with {expected!r}")
        attributes = SnsHook().conn.get_subscription_attributes(SubscriptionArn=subscription_arn)["Attributes"]
        if (attributes["Protocol"], attributes["TopicArn"]) != ("lambda", topic_arn):
            raise ValidationError(f"Lambda lab 2: subscription {subscription_arn} is {attributes}")
        return {
            "topic": topic_arn.rsplit(":", 1)[-1],
            "subscription_protocol": attributes["Protocol"],
            "subscribed_function": attributes["Endpoint"].rsplit(":", 1)[-1],
            "messages_logged": len(lines),
            "logged_subject": params["subject"],
            "logged_message": params["message"],
        }

    checks = validate(wait_for_logged_message.output, create_topic.output, subscribe_function.output)

    # --- teardown
    gate = teardown_gate()
    teardown = lab.teardown(
        function=FUNCTION, before=[SnsDeleteTopicOperator(task_id="delete_topic", topic_name=TOPIC, **TEARDOWN)]
    )
    chain(
        [wait_for_function_active, create_topic],
        allow_sns_to_invoke,
        subscribe_function,
        publish_message,
        wait_for_logged_message,
        checks,
        gate,
        teardown,
    )
    body_watcher(dag, gate)
