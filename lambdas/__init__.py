"""Lambda handlers, one module per function (`handler(event, context)`).

Each module is deployed alone: labkit's packaging zips the one file at the zip root, so the
handler is `<module>.handler`. Only what the Lambda python3.11 runtime has: the standard
library, boto3 and botocore (the clickstream detector also needs krcf, zipped with it from the
venv's abi3 wheel, on python3.12); configuration comes from environment variables and the event.
"""
