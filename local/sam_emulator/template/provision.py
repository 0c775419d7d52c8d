"""Create what the template declares in the local AWS endpoint, through ordinary boto3 calls.

Each supported type has one ``_create_*`` method; resources are created in dependency order
(everything a resource refers to first). Function specs, state machine definitions, pipes,
API routes and event rules are collected for the parts of the runtime that serve them.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import string
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sam_emulator.awslambda.functions import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_SECONDS, AsyncInvokeConfig, FunctionSpec
from sam_emulator.errors import TemplateError
from sam_emulator.event_sources.pipes import PipeSpec
from sam_emulator.event_sources.rules import EventRuleSpec, schedule_period_seconds
from sam_emulator.event_sources.streams import StreamMappingSpec
from sam_emulator.template import cloudwatch_resources as cloudwatch
from sam_emulator.template import parser as types
from sam_emulator.template import sns_resources as sns
from sam_emulator.template.parser import DeclaredResource, Template

logger = logging.getLogger("sam_emulator")

#: Every local function and state machine runs as this role (template IAM is not emulated).
LOCAL_ROLE_NAME = "sam-emulator-execution-role"
_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com", "pipes.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}

#: CloudFormation queue properties that are SQS attributes of the same name.
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


@dataclass(frozen=True)
class ApiRoute:
    """One ``Api`` event: METHOD path -> function."""

    function_logical_id: str
    method: str  # upper case, or ANY
    path: str
    api_logical_id: str
    stage: str
    #: ``Auth.ApiKeyRequired`` of the event, else of its API (enforced when the runtime has a key).
    api_key_required: bool = False


@dataclass
class ProvisionedStack:
    functions: list[FunctionSpec] = field(default_factory=list)
    pipes: list[PipeSpec] = field(default_factory=list)
    routes: list[ApiRoute] = field(default_factory=list)
    event_rules: list[EventRuleSpec] = field(default_factory=list)
    #: ``DynamoDB`` events of the functions (Lambda event source mappings on table streams).
    stream_mappings: list[StreamMappingSpec] = field(default_factory=list)
    #: Values Secrets Manager generated for ``GenerateSecretString`` secrets, by logical id.
    secrets: dict[str, str] = field(default_factory=dict)
    state_machine_arns: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Provisioner:
    def __init__(self, template: Template, *, client: Callable[[str], Any]):
        self.template = template
        self.stack = ProvisionedStack()
        self._client = client
        self._role_arn = template.arn("iam", f"role/{LOCAL_ROLE_NAME}", region=False)
        self._other_runtimes: dict[str, list[str]] = {}
        self._traced_functions: list[str] = []

    def provision(self) -> ProvisionedStack:
        self._client("iam").create_role(RoleName=LOCAL_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(_TRUST_POLICY))
        creators = {
            types.TABLE: self._create_table,
            types.QUEUE: self._create_queue,
            types.BUCKET: self._create_bucket,
            types.LOG_GROUP: self._create_log_group,
            types.LAYER: self._note_layer,
            types.FUNCTION: self._create_function,
            types.SERVERLESS_STATE_MACHINE: self._create_state_machine,
            types.STATE_MACHINE: self._create_state_machine,
            types.PIPE: self._create_pipe,
            types.API: self._note_api,
            types.EVENT_RULE: self._create_event_rule,
            types.SECRET: self._create_secret,
            **sns.creators(self.template, self._client, self.stack),
            **cloudwatch.creators(self.template, self._client, self.stack),
        }
        for logical_id in self.template.creation_order():
            resource = self.template.resources[logical_id]
            label = f"{logical_id} ({resource.type})"
            if resource.type in creators:
                creators[resource.type](resource)
                self.stack.created.append(label)
            elif resource.type in types.IGNORED_TYPES:
                self.stack.ignored.append(label)
            else:
                self.stack.unsupported.append(label)
        if self._traced_functions:
            count = len(self._traced_functions)
            self.stack.notes.append(f"{count} functions have Tracing: Active; X-Ray tracing is not emulated locally")
        local_python = f"python{sys.version_info.major}.{sys.version_info.minor}"
        for runtime, functions in self._other_runtimes.items():
            self.stack.notes.append(f"{len(functions)} functions declare {runtime} and run on {local_python} locally")
        return self.stack

    # --- data stores ------------------------------------------------------------------

    def _create_table(self, resource: DeclaredResource) -> None:
        props = self.template.resolved_properties(resource.logical_id)
        request: dict[str, Any] = {
            "TableName": self.template.identity(resource.logical_id).ref,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if request["BillingMode"] == "PROVISIONED":
            request["ProvisionedThroughput"] = props.get(
                "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            )
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                request[key] = props[key]
        stream = props.get("StreamSpecification")
        if stream:
            # CloudFormation has only StreamViewType; the API also wants StreamEnabled.
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        dynamodb = self._client("dynamodb")
        created = dynamodb.create_table(**request)["TableDescription"]
        if stream:
            # !GetAtt Table.StreamArn: the real local stream (moto labels it with the creation time).
            self.template.update_identity(resource.logical_id, StreamArn=created["LatestStreamArn"])
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=request["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )

    def _create_queue(self, resource: DeclaredResource) -> None:
        props = self.template.resolved_properties(resource.logical_id)
        identity = self.template.identity(resource.logical_id)
        attributes = {key: _attribute_text(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        for policy in ("RedrivePolicy", "RedriveAllowPolicy"):
            if policy in props:
                attributes[policy] = json.dumps(props[policy]) if isinstance(props[policy], dict) else props[policy]
        self._client("sqs").create_queue(QueueName=identity.attributes["QueueName"], Attributes=attributes)

    def _create_bucket(self, resource: DeclaredResource) -> None:
        props = self.template.resolved_properties(resource.logical_id)
        name = self.template.identity(resource.logical_id).ref
        request: dict[str, Any] = {"Bucket": name}
        if self.template.pseudo.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": self.template.pseudo.region}
        s3 = self._client("s3")
        s3.create_bucket(**request)
        if "LifecycleConfiguration" in props:
            self.stack.notes.append(f"{resource.logical_id}: LifecycleConfiguration is not applied locally")
        if "CorsConfiguration" in props:
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": props["CorsConfiguration"]["CorsRules"]})

    def _create_secret(self, resource: DeclaredResource) -> None:
        """``AWS::SecretsManager::Secret``: ``SecretString``, or a value made as ``GenerateSecretString``
        asks. Ref is the ARN Secrets Manager assigns; generated values are kept for the banner."""
        props = self.template.resolved_properties(resource.logical_id)
        name = self.template.default_name(resource, "Name", 512)
        request: dict[str, Any] = {"Name": name}
        if "Description" in props:
            request["Description"] = props["Description"]
        if props.get("Tags"):
            request["Tags"] = props["Tags"]
        if "SecretString" in props and "GenerateSecretString" in props:
            raise TemplateError(f"{resource.logical_id}: SecretString and GenerateSecretString are exclusive")
        if "SecretString" in props:
            request["SecretString"] = str(props["SecretString"])
        elif "GenerateSecretString" in props:
            request["SecretString"] = generate_secret_string(resource.logical_id, props["GenerateSecretString"] or {})
            self.stack.secrets[resource.logical_id] = request["SecretString"]
        for unsupported in ("KmsKeyId", "ReplicaRegions"):
            if unsupported in props:
                self.stack.notes.append(f"{resource.logical_id}: {unsupported} is not applied locally")
        arn = self._client("secretsmanager").create_secret(**request)["ARN"]
        self.template.update_identity(resource.logical_id, ref=arn, Id=arn)

    def _create_log_group(self, resource: DeclaredResource) -> None:
        props = self.template.resolved_properties(resource.logical_id)
        logs = self._client("logs")
        name = self.template.identity(resource.logical_id).ref
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))

    # --- compute ----------------------------------------------------------------------

    def _note_layer(self, resource: DeclaredResource) -> None:
        """Layers are folders added to ``sys.path``; nothing to create."""

    def _layer_dirs(self, layers: list[Any]) -> tuple[Path, ...]:
        by_arn = {self.template.identity(layer.logical_id).ref: layer for layer in self.template.of_type(types.LAYER)}
        folders: list[Path] = []
        for layer_arn in layers:
            layer = by_arn.get(layer_arn)
            if layer is None:
                self.stack.notes.append(f"layer {layer_arn} is not declared in the template; skipped")
                continue
            content = self.template.resolve(layer.properties.get("ContentUri"))
            if not isinstance(content, str):
                raise TemplateError(f"{layer.logical_id}: ContentUri must be a local folder locally")
            folder = (self.template.base_dir / content).resolve()
            python_folder = folder / "python"
            folders.append(python_folder if python_folder.is_dir() else folder)
        return tuple(folders)

    def _create_function(self, resource: DeclaredResource) -> None:
        props = self.template.resolved_properties(resource.logical_id)
        identity = self.template.identity(resource.logical_id)
        code_uri = props.get("CodeUri")
        if not isinstance(code_uri, str):
            raise TemplateError(f"{resource.logical_id}: CodeUri must be a local folder locally")
        if props.get("PackageType") == "Image":
            raise TemplateError(f"{resource.logical_id}: image functions are not supported locally")
        if props.get("Tracing") == "Active":
            self._traced_functions.append(resource.logical_id)
        runtime = props.get("Runtime", "python3.11")
        if runtime.startswith("python") and runtime != f"python{sys.version_info.major}.{sys.version_info.minor}":
            self._other_runtimes.setdefault(runtime, []).append(resource.logical_id)
        variables = (props.get("Environment") or {}).get("Variables") or {}
        spec = FunctionSpec(
            logical_id=resource.logical_id,
            name=identity.ref,
            arn=identity.attributes["Arn"],
            code_dir=(self.template.base_dir / code_uri).resolve(),
            handler=props["Handler"],
            environment={key: _environment_text(value) for key, value in variables.items()},
            layer_dirs=self._layer_dirs(props.get("Layers") or []),
            timeout_seconds=float(props.get("Timeout", DEFAULT_TIMEOUT_SECONDS)),
            memory_mb=int(props.get("MemorySize", DEFAULT_MEMORY_MB)),
            runtime=runtime,
            async_config=self._async_config(resource.logical_id, props.get("EventInvokeConfig")),
        )
        self.stack.functions.append(spec)
        self._client("lambda").create_function(
            FunctionName=spec.name,
            Runtime=runtime,
            Role=self._role_arn,
            Handler=spec.handler,
            Code={"ZipFile": _placeholder_zip(spec)},
            Timeout=int(spec.timeout_seconds),
            MemorySize=spec.memory_mb,
            Environment={"Variables": dict(spec.environment)},
        )
        for event_name, event in (props.get("Events") or {}).items():
            self._function_event(resource.logical_id, event_name, event)

    def _async_config(self, function_id: str, props: dict[str, Any] | None) -> AsyncInvokeConfig:
        config = AsyncInvokeConfig.from_properties(props)
        destinations = (props or {}).get("DestinationConfig") or {}
        if "OnSuccess" in destinations:
            self.stack.notes.append(f"{function_id}: EventInvokeConfig OnSuccess is not delivered locally")
        if config.on_failure_arn and config.on_failure_type not in ("SQS", "Lambda"):
            self.stack.notes.append(
                f"{function_id}: OnFailure destination type {config.on_failure_type} is not delivered locally"
            )
        return config

    def _function_event(self, function_id: str, event_name: str, event: dict[str, Any]) -> None:
        props = event.get("Properties") or {}
        if event.get("Type") == "EventBridgeRule":
            self._function_rule(function_id, event_name, props)
            return
        if event.get("Type") == "Schedule":
            self._function_schedule(function_id, event_name, props)
            return
        if event.get("Type") == "DynamoDB":
            self._function_stream(function_id, event_name, props)
            return
        if event.get("Type") != "Api":
            self.stack.unsupported.append(f"{function_id}.Events.{event_name} (event type {event.get('Type')})")
            return
        api_id = _api_logical_id(self.template, props.get("RestApiId"))
        api = self.template.resources.get(api_id)
        stage = self.template.resolve(api.properties.get("StageName", "Prod")) if api else "Prod"
        api_auth = (self.template.resolve(api.properties.get("Auth")) if api else None) or {}
        event_auth = self.template.resolve(props.get("Auth")) or {}
        key_required = event_auth.get("ApiKeyRequired", api_auth.get("ApiKeyRequired", False))
        self.stack.routes.append(
            ApiRoute(
                function_logical_id=function_id,
                method=str(props["Method"]).upper(),
                path=props["Path"],
                api_logical_id=api_id,
                stage=str(stage),
                api_key_required=key_required in (True, "true", "True"),
            )
        )

    def _function_rule(self, function_id: str, event_name: str, props: dict[str, Any]) -> None:
        """SAM's ``EventBridgeRule`` event: a rule whose target is the function."""
        rule_id = f"{function_id}{event_name}"
        spec = EventRuleSpec(
            logical_id=rule_id,
            name=props.get("RuleName") or f"{self.template.pseudo.stack_name}-{rule_id}"[:64],
            event_pattern=props.get("Pattern"),
            schedule_expression=None,
            state=props.get("State", "ENABLED"),
            event_bus_name=props.get("EventBusName"),
            targets=[{"Id": function_id, "Arn": self.template.identity(function_id).attributes["Arn"]}],
        )
        self._register_rule(spec)
        for delivery_only in ("RetryPolicy", "DeadLetterConfig"):
            if delivery_only in props:
                # EventBridge applies them only when it cannot reach the target, which never happens locally.
                self.stack.notes.append(f"{rule_id}: {delivery_only} applies on AWS only (local delivery never fails)")

    def _function_stream(self, function_id: str, event_name: str, props: dict[str, Any]) -> None:
        """SAM's ``DynamoDB`` event: an event source mapping on a table stream of the template."""
        stream_arn = props.get("Stream")
        label = f"{function_id}.Events.{event_name}"
        table = next(
            (
                table
                for table in self.template.of_type(types.TABLE)
                if self.template.identity(table.logical_id).attributes.get("StreamArn") == stream_arn
            ),
            None,
        )
        if table is None:
            raise TemplateError(
                f"{label}: Stream {stream_arn!r} is not the stream of a table of the template "
                "(use !GetAtt <Table>.StreamArn)"
            )
        if not self.template.resolve(table.properties.get("StreamSpecification")):
            raise TemplateError(
                f"{label}: table {table.logical_id} has no stream; give it a StreamSpecification "
                "(for example {StreamViewType: NEW_AND_OLD_IMAGES})"
            )
        spec = StreamMappingSpec.from_properties(function_id, event_name, props, table_logical_id=table.logical_id)
        self.stack.stream_mappings.append(spec)
        self.stack.notes.extend(spec.notes)

    def _function_schedule(self, function_id: str, event_name: str, props: dict[str, Any]) -> None:
        """SAM's ``Schedule`` event: a scheduled rule whose target is the function."""
        rule_id = f"{function_id}{event_name}"
        enabled = props.get("Enabled", True) and props.get("State", "ENABLED") == "ENABLED"
        target: dict[str, Any] = {"Id": function_id, "Arn": self.template.identity(function_id).attributes["Arn"]}
        if "Input" in props:
            target["Input"] = props["Input"]
        spec = EventRuleSpec(
            logical_id=rule_id,
            name=props.get("Name") or f"{self.template.pseudo.stack_name}-{rule_id}"[:64],
            event_pattern=None,
            schedule_expression=props["Schedule"],
            state="ENABLED" if enabled else "DISABLED",
            event_bus_name=None,
            targets=[target],
        )
        self._register_rule(spec)

    def _note_api(self, resource: DeclaredResource) -> None:
        for unsupported in ("Cors", "DefinitionBody", "DefinitionUri", "MethodSettings", "TracingEnabled"):
            if unsupported in resource.properties:
                self.stack.notes.append(f"{resource.logical_id}: {unsupported} is not emulated locally")
        auth = self.template.resolve(resource.properties.get("Auth")) or {}
        for unsupported in sorted(set(auth) - {"ApiKeyRequired", "UsagePlan", "AddApiKeyRequiredToCorsPreflight"}):
            self.stack.notes.append(f"{resource.logical_id}: Auth.{unsupported} is not emulated locally")
        if "UsagePlan" in auth:
            self.stack.notes.append(
                f"{resource.logical_id}: usage plan throttling applies on AWS only; the API key is enforced when the "
                "runtime is given one (api_key)"
            )

    # --- workflows --------------------------------------------------------------------

    def _create_state_machine(self, resource: DeclaredResource) -> None:
        props = self.template.resolved_properties(resource.logical_id)
        identity = self.template.identity(resource.logical_id)
        definition = self._definition(resource, props)
        machine_type = props.get("Type") or props.get("StateMachineType") or "STANDARD"
        request: dict[str, Any] = {}
        logging_config = props.get("Logging") or props.get("LoggingConfiguration")  # SAM / CloudFormation
        if logging_config:
            request["loggingConfiguration"] = _state_machine_logging(logging_config)
        tracing = props.get("Tracing") or props.get("TracingConfiguration")
        if tracing:
            request["tracingConfiguration"] = {"enabled": _truthy(tracing.get("Enabled", False))}
            if request["tracingConfiguration"]["enabled"]:
                self.stack.notes.append(f"{resource.logical_id}: Tracing (X-Ray) is not emulated locally")
        response = self._client("stepfunctions").create_state_machine(
            name=identity.attributes["Name"],
            definition=definition,
            roleArn=self._role_arn,
            type=machine_type,
            **request,
        )
        self.stack.state_machine_arns[resource.logical_id] = response["stateMachineArn"]
        if props.get("Events"):
            self.stack.unsupported.append(f"{resource.logical_id}.Events (state machine event sources)")

    def _definition(self, resource: DeclaredResource, props: dict[str, Any]) -> str:
        if "DefinitionUri" in props:
            uri = props["DefinitionUri"]
            if not isinstance(uri, str):
                raise TemplateError(f"{resource.logical_id}: DefinitionUri must be a local file locally")
            path = (self.template.base_dir / uri).resolve()
            text = path.read_text()
            document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        elif "Definition" in props:
            document = props["Definition"]
        elif "DefinitionString" in props:
            document = json.loads(props["DefinitionString"])
        else:
            raise TemplateError(f"{resource.logical_id}: no DefinitionUri, Definition or DefinitionString")
        definition = json.dumps(document, indent=2)
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        return definition

    def _create_pipe(self, resource: DeclaredResource) -> None:
        props = self.template.resolved_properties(resource.logical_id)
        spec = PipeSpec.from_properties(resource.logical_id, self.template.identity(resource.logical_id).ref, props)
        queues_by_arn = {
            self.template.identity(queue.logical_id).attributes["Arn"]: self.template.identity(queue.logical_id).ref
            for queue in self.template.of_type(types.QUEUE)
        }
        if spec.source_arn not in queues_by_arn:
            self.stack.unsupported.append(
                f"{resource.logical_id} (pipe source {spec.source_arn} is not a queue of the template)"
            )
            return
        spec.source_queue_url = queues_by_arn[spec.source_arn]
        self.stack.notes.extend(spec.notes)
        self.stack.pipes.append(spec)
        self._client("pipes").create_pipe(
            Name=spec.name,
            DesiredState=spec.desired_state,
            Source=spec.source_arn,
            Target=spec.target_arn,
            RoleArn=props.get("RoleArn") or self._role_arn,
        )

    def _create_event_rule(self, resource: DeclaredResource) -> None:
        props = self.template.resolved_properties(resource.logical_id)
        name = self.template.identity(resource.logical_id).ref
        self._register_rule(EventRuleSpec.from_properties(resource.logical_id, name, props))

    def _register_rule(self, spec: EventRuleSpec) -> None:
        self.stack.event_rules.append(spec)
        if spec.schedule_expression and schedule_period_seconds(spec.schedule_expression) is None:
            self.stack.notes.append(f"{spec.logical_id}: {spec.schedule_expression} is not run locally (rate() is)")
        elif not spec.watches_step_functions and not spec.schedule_expression:
            self.stack.notes.append(f"{spec.logical_id}: rule created; only aws.states events are delivered locally")
        request: dict[str, Any] = {"Name": spec.name, "State": spec.state}
        if spec.event_pattern is not None:
            request["EventPattern"] = json.dumps(spec.event_pattern)
        if spec.schedule_expression:
            request["ScheduleExpression"] = spec.schedule_expression
        if spec.event_bus_name:
            request["EventBusName"] = spec.event_bus_name
        self._client("events").put_rule(**request)


def _state_machine_logging(config: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's ``LoggingConfiguration`` (SAM's ``Logging``) in the API's shape."""
    destinations = [
        {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
        for d in config.get("Destinations") or []
        if (d.get("CloudWatchLogsLogGroup") or {}).get("LogGroupArn")
    ]
    logging_config: dict[str, Any] = {
        "level": config.get("Level", "OFF"),
        "includeExecutionData": _truthy(config.get("IncludeExecutionData", False)),
    }
    if destinations:
        logging_config["destinations"] = destinations
    return logging_config


def _api_logical_id(template: Template, rest_api_id: Any) -> str:
    """``RestApiId: !Ref MyApi`` resolves to MyApi's id; map it back to the logical id."""
    if rest_api_id is None:
        return types.IMPLICIT_API_ID
    for api in template.of_type(types.API):
        if template.identity(api.logical_id).ref == rest_api_id:
            return api.logical_id
    raise TemplateError(f"Api event RestApiId {rest_api_id!r} is not an AWS::Serverless::Api of the template")


def generate_secret_string(logical_id: str, spec: dict[str, Any]) -> str:
    """A value as Secrets Manager generates it for ``GenerateSecretString``: ``PasswordLength``
    (default 32) characters from the classes not excluded (``ExcludeLowercase``,
    ``ExcludeUppercase``, ``ExcludeNumbers``, ``ExcludePunctuation``, ``ExcludeCharacters``; a space
    with ``IncludeSpace``), one of each at least (``RequireEachIncludedType``, default true). With
    ``SecretStringTemplate`` and ``GenerateStringKey`` it goes into that JSON under that key."""
    excluded = set(str(spec.get("ExcludeCharacters") or ""))
    classes = [
        characters
        for flag, characters in (
            ("ExcludeLowercase", string.ascii_lowercase),
            ("ExcludeUppercase", string.ascii_uppercase),
            ("ExcludeNumbers", string.digits),
            ("ExcludePunctuation", string.punctuation),  # the ASCII punctuation GetRandomPassword uses
        )
        if not _truthy(spec.get(flag, False))
    ]
    if _truthy(spec.get("IncludeSpace", False)):
        classes.append(" ")
    classes = [kept for kept in ("".join(c for c in chars if c not in excluded) for chars in classes) if kept]
    length = int(spec.get("PasswordLength", 32))
    require_each = _truthy(spec.get("RequireEachIncludedType", True))
    if not classes or length < 1 or (require_each and length < len(classes)):
        raise TemplateError(f"{logical_id}: GenerateSecretString cannot make a {length}-character value from {spec}")
    alphabet = "".join(classes)
    characters = [secrets.choice(chars) for chars in classes] if require_each else []
    characters += [secrets.choice(alphabet) for _ in range(length - len(characters))]
    secrets.SystemRandom().shuffle(characters)
    value = "".join(characters)
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if (template is None) != (key is None):
        raise TemplateError(f"{logical_id}: SecretStringTemplate and GenerateStringKey go together")
    if template is None:
        return value
    try:
        document = json.loads(template)
    except ValueError as error:
        raise TemplateError(f"{logical_id}: SecretStringTemplate is not JSON: {error}") from None
    return json.dumps({**document, key: value})


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _attribute_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _environment_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else json.dumps(value)


def _placeholder_zip(spec: FunctionSpec) -> bytes:
    """moto stores a code package per function; ours just says where the code really is."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("LOCAL_CODE.txt", f"Runs locally from {spec.code_dir.name}/ ({spec.handler})\n")
    return buffer.getvalue()
