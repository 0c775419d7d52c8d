"""Template-driven: a resource added to the template shows up locally with no code change.

This module starts its own runtime (moto's state is per process, so it does not share one).
"""

from __future__ import annotations

import json
import shutil
import uuid

from local_runtime.fixture_paths import FIXTURES

from sam_emulator.testing import wait_until


def test_a_second_queue_and_pipe_need_no_code_change(tmp_path, local_runtime_factory):
    copy = tmp_path / "stack"
    shutil.copytree(FIXTURES, copy)
    template_path = copy / "template.yaml"
    text = template_path.read_text().replace(
        "  WorkflowLogs:",
        """  ReportsQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1

  ReportsPipe:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: !GetAtt PipeRole.Arn
      Source: !GetAtt ReportsQueue.Arn
      Target: !Ref PipeTarget
      TargetParameters:
        InputTemplate: '{"report": <$.body.report>}'

  WorkflowLogs:""",
    )
    template_path.write_text(text)
    runtime = local_runtime_factory(template_path)
    report = f"r-{uuid.uuid4().hex[:6]}"

    runtime.client("sqs").send_message(QueueUrl=runtime.ref("ReportsQueue"), MessageBody=json.dumps({"report": report}))

    sfn = runtime.client("stepfunctions")

    def started_with_report() -> list[str]:
        executions = sfn.list_executions(stateMachineArn=runtime.ref("PipeTarget"))["executions"]
        inputs = [sfn.describe_execution(executionArn=e["executionArn"])["input"] for e in executions]
        return [text for text in inputs if report in text]

    inputs = wait_until(started_with_report, what="an execution started by the new pipe")
    assert json.loads(inputs[0]) == [{"report": report}]
    assert "ReportsPipe" in runtime.pipes
