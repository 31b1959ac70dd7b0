"""CloudFormation stacks that create, fail, roll back and delete as CloudFormation does (docs/local-aws/cloudformation.md).

`stacks` is the executor that drives moto's stacks through `engine` (resources one by one, with their
events, rollback, deletion in reverse order, on the `cloudformation-stacks` worker); `resources` is the
executor that completes moto's resource types (IAM roles, Lambda functions and permissions, buckets,
topics) and adds those it lacks (`added_types`: Firehose delivery streams, SNS subscriptions, SQS queue
policies).
"""
