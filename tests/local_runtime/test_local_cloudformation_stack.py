"""The running stack as a CloudFormation stack: DescribeStacks, ListStackResources and
DescribeStackResource(s) through boto3, on the small template."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sam_emulator.cloudformation.patches import stack_patches
from sam_emulator.cloudformation.stack import localize_api_urls
from sam_emulator.errors import MotoPatchError


@pytest.mark.parametrize("patch", stack_patches(lambda: None), ids=lambda patch: patch.name)
def test_patched_cloudformation_internal_still_has_the_expected_shape(patch):
    try:
        patch.check()
    except MotoPatchError as error:
        pytest.fail(f"{error} - see sam_emulator/cloudformation/patches.py")


def test_describe_stacks_has_the_local_outputs(runtime):
    stack = runtime.client("cloudformation").describe_stacks(StackName="sam-app")["Stacks"][0]

    assert stack["StackName"] == "sam-app"
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["StackId"].startswith("arn:aws:cloudformation:us-east-1:123456789012:stack/sam-app/")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == {"JobsQueueUrl": runtime.ref("JobsQueue"), "JobWorkflowArn": runtime.ref("JobWorkflow")}
    assert {"ParameterKey": "Stage", "ParameterValue": "test"} in stack["Parameters"]


def test_the_stack_id_names_it_too_and_other_names_do_not_exist(runtime):
    cloudformation = runtime.client("cloudformation")
    stack_id = cloudformation.describe_stacks(StackName="sam-app")["Stacks"][0]["StackId"]

    assert cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackName"] == "sam-app"
    assert [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]] == ["sam-app"]
    with pytest.raises(ClientError, match="Stack with id other does not exist"):
        cloudformation.describe_stacks(StackName="other")


def test_list_stack_resources_has_every_created_resource_with_its_physical_id(runtime):
    summaries = []
    for page in runtime.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName="sam-app"):
        summaries += page["StackResourceSummaries"]
    by_id = {s["LogicalResourceId"]: s for s in summaries}

    assert by_id["JobsQueue"]["PhysicalResourceId"] == runtime.ref("JobsQueue")
    assert by_id["JobsQueue"]["ResourceType"] == "AWS::SQS::Queue"
    assert by_id["ArtifactsBucket"]["PhysicalResourceId"] == runtime.ref("ArtifactsBucket")
    assert by_id["JobWorkflow"]["PhysicalResourceId"] == runtime.ref("JobWorkflow")
    assert {s["ResourceStatus"] for s in summaries} == {"CREATE_COMPLETE"}
    assert "ClickStream" not in by_id, "a resource type the runtime does not create is not listed"


def test_describe_stack_resource(runtime):
    cloudformation = runtime.client("cloudformation")

    detail = cloudformation.describe_stack_resource(StackName="sam-app", LogicalResourceId="JobsTable")
    resources = cloudformation.describe_stack_resources(StackName="sam-app", LogicalResourceId="JobsTable")

    assert detail["StackResourceDetail"]["PhysicalResourceId"] == runtime.ref("JobsTable")
    assert detail["StackResourceDetail"]["StackName"] == "sam-app"
    assert [r["PhysicalResourceId"] for r in resources["StackResources"]] == [runtime.ref("JobsTable")]
    with pytest.raises(ClientError, match="Resource Nope does not exist for stack sam-app"):
        cloudformation.describe_stack_resource(StackName="sam-app", LogicalResourceId="Nope")


def test_an_api_invoke_url_becomes_the_local_api_url():
    url = "https://abc123.execute-api.us-east-1.amazonaws.com/Prod/"

    assert localize_api_urls(url, {"abc123"}, "http://127.0.0.1:3000") == "http://127.0.0.1:3000/"
    assert localize_api_urls(url + "jobs", {"abc123"}, "http://127.0.0.1:3000") == "http://127.0.0.1:3000/jobs"
    assert localize_api_urls(url, {"other"}, "http://127.0.0.1:3000") == url
