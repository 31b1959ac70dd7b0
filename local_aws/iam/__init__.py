"""IAM for local AWS: who makes a request and whether policies allow it.

moto records users, roles, keys and bucket policies but (unless switched on globally) enforces
none of them. This package resolves the principal behind a request's access key
(principals.py), evaluates identity and resource policies as AWS does within an account
(policy.py), enforces the result on every S3 request (s3.py), and answers IAM's policy simulator
(SimulatePrincipalPolicy, SimulateCustomPolicy) with the same evaluator (simulate.py). docs/local-aws/iam.md
says what is enforced and what is not.
"""
