"""The Lambda labs' create-or-update operator returns only when the function can be invoked, as on AWS.

A new function is Pending until Lambda has provisioned it; local AWS's provisioning is held open
here (lifecycle._prepare waits for the test), so the operator is seen waiting whatever the speed
of the machine.
"""

from __future__ import annotations

import threading

from labkit.core import paths
from labkit.operators import lambda_function as ops
from labkit.operators.iam import IamCreateRoleOperator
from labkit.operators.packaging import S3UploadLambdaPackageOperator
from tests.lambda_support import wait_for


def test_create_waits_until_the_function_is_active(aws_client, provisioning):
    aws_client("s3").create_bucket(Bucket="code")
    role_arn = IamCreateRoleOperator(task_id="role", role_name="waiter-role", service="lambda.amazonaws.com").execute(
        {}
    )
    code = S3UploadLambdaPackageOperator(
        task_id="upload", module_file=str(paths.LAMBDAS_DIR / "basics.py"), bucket_name="code", key="basics.zip"
    ).execute({})
    operator = ops.LambdaCreateOrUpdateFunctionOperator(
        task_id="create_function", function_name="waiter", runtime="python3.11", role=role_arn,
        handler="basics.handler", code=code,
    )  # fmt: skip
    returned: list[str] = []
    run = threading.Thread(target=lambda: returned.append(operator.execute({})))
    lam = aws_client("lambda")

    run.start()
    wait_for(lambda: any(f["FunctionName"] == "waiter" for f in lam.list_functions()["Functions"]))
    assert lam.get_function(FunctionName="waiter")["Configuration"]["State"] == "Pending"
    assert run.is_alive()  # still waiting: the function cannot be invoked yet
    provisioning.set()
    run.join(60)

    assert returned == [lam.get_function(FunctionName="waiter")["Configuration"]["FunctionArn"]]
    assert lam.get_function(FunctionName="waiter")["Configuration"]["State"] == "Active"
    assert lam.invoke(FunctionName="waiter", Payload=b'{"name": "lab"}')["StatusCode"] == 200
