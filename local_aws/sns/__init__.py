"""SNS beyond moto: email subscriptions that wait for confirmation, and a local mailbox to read what SNS mailed.

`email_subscriptions` is the executor (moto patches), `mailbox` keeps the mails and serves
`/_local_aws/sns/email` (docs/local-aws/sns.md); `messages` decides what a subscription receives of a
message (its filter policy, MessageStructure json), for the Lambda event source too.
"""
