"""Reading templates: intrinsics, Globals, Conditions, unsupported types, and template-driven resources."""

from __future__ import annotations

import pytest
from local_runtime.fixture_paths import TEST_TEMPLATE

from sam_emulator.errors import UnresolvableReferenceError, UnsupportedIntrinsicError
from sam_emulator.template.intrinsics import Identity, PseudoParameters, Resolver
from sam_emulator.template.parser import Template

ENDPOINT = "http://127.0.0.1:4566"


@pytest.fixture
def resolver() -> Resolver:
    identities = {"Queue": Identity(ref="https://q", attributes={"Arn": "arn:q"})}

    def identify(logical_id: str) -> Identity:
        if logical_id not in identities:
            raise UnresolvableReferenceError(logical_id)
        return identities[logical_id]

    return Resolver(
        parameters={"Stage": "dev", "Names": ["a", "b"]},
        pseudo=PseudoParameters(stack_name="my-stack"),
        conditions={"IsDev": True, "IsProd": False},
        mappings={"Sizes": {"dev": {"memory": 128}}},
        identify=identify,
    )


def test_intrinsics(resolver: Resolver):
    assert resolver.resolve({"Ref": "Queue"}) == "https://q"
    assert resolver.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "arn:q"
    assert resolver.resolve({"Fn::GetAtt": "Queue.Arn"}) == "arn:q"
    assert resolver.resolve({"Fn::Sub": "${AWS::StackName}-${Stage}-${Queue.Arn}-${!Literal}"}) == (
        "my-stack-dev-arn:q-${Literal}"
    )
    assert resolver.resolve({"Fn::Sub": ["${X}/${AWS::Region}", {"X": {"Ref": "Stage"}}]}) == "dev/us-east-1"
    assert resolver.resolve({"Fn::Join": ["-", [{"Ref": "Stage"}, "x"]]}) == "dev-x"
    assert resolver.resolve({"Fn::Select": [1, {"Ref": "Names"}]}) == "b"
    assert resolver.resolve({"Fn::If": ["IsProd", "big", "small"]}) == "small"
    assert resolver.resolve({"Fn::Equals": [{"Ref": "Stage"}, "dev"]}) is True
    assert resolver.resolve({"Fn::FindInMap": ["Sizes", "dev", "memory"]}) == 128
    assert resolver.resolve({"A": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}, "B": 2}) == {"B": 2}
    assert resolver.resolve({"Ref": "AWS::AccountId"}) == "123456789012"
    assert resolver.resolve({"Ref": "AWS::Partition"}) == "aws"
    assert resolver.resolve({"Ref": "AWS::URLSuffix"}) == "amazonaws.com"


def test_unknown_references_and_functions_are_typed_errors(resolver: Resolver):
    with pytest.raises(UnresolvableReferenceError):
        resolver.resolve({"Ref": "Missing"})
    with pytest.raises(UnsupportedIntrinsicError):
        resolver.resolve({"Fn::ImportValue": "shared-thing"})


def test_globals_conditions_and_unsupported_types():
    template = Template.load(TEST_TEMPLATE, endpoint_url=ENDPOINT)

    worker = template.resources["WorkerFunction"]
    assert worker.properties["Timeout"] == 10  # from Globals
    assert set(worker.properties["Environment"]["Variables"]) >= {"TABLE_NAME", "STAGE", "BUCKET_NAME"}
    assert "ExtraQueue" not in template.resources  # Condition false
    assert [resource.logical_id for resource in template.unsupported] == ["ClickStream"]
    assert {resource.logical_id for resource in template.ignored} == {"ArtifactsBucketPolicy", "PipeRole"}
    order = template.creation_order()
    assert order.index("JobsDeadLetterQueue") < order.index("JobsQueue")
    assert order.index("WorkerFunction") < order.index("JobWorkflow")


def test_parameter_overrides_flip_conditions():
    template = Template.load(TEST_TEMPLATE, endpoint_url=ENDPOINT, parameter_overrides={"EnableExtras": "true"})

    assert "ExtraQueue" in template.resources
    assert template.resolve({"Fn::If": ["ExtrasEnabled", "on", "off"]}) == "on"


def test_unsupported_and_ignored_resources_are_listed(runtime):
    assert runtime.stack.unsupported == ["ClickStream (AWS::Kinesis::Stream)"]
    assert "ArtifactsBucketPolicy (AWS::S3::BucketPolicy)" in runtime.stack.ignored
    rules = {rule.name: rule for rule in runtime.stack.event_rules}
    assert rules[runtime.ref("WorkflowStatusRule")].watches_step_functions
    scheduled = sorted(name for name, rule in rules.items() if rule.schedule_expression)
    assert scheduled == [
        f"sam-app-TickerFunction{event}" for event in ("EveryMinute", "EveryMinuteWithInput", "Nightly")
    ]
