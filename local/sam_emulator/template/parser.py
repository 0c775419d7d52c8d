"""Read a SAM / CloudFormation template and give every resource its local identity.

The template is parsed with cfn-lint's decoder, which understands the short-form tags
(``!Ref``, ``!GetAtt``, ``!Sub`` ...). SAM ``Globals`` are merged into the resources the way
SAM merges them (maps merged, lists concatenated, scalars overridden), ``Parameters`` take
their defaults unless overridden, ``Conditions`` are evaluated, and resources whose
``Condition`` is false are left out.

Names are deterministic (``<stack>-<LogicalId>`` unless the template names the resource), so
``Ref`` / ``Fn::GetAtt`` can be answered before anything is created.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from sam_emulator.errors import TemplateError, UnresolvableReferenceError
from sam_emulator.template import cloudwatch_resources as cloudwatch
from sam_emulator.template import sns_resources as sns
from sam_emulator.template.intrinsics import SUB_VARIABLE, Identity, PseudoParameters, Resolver

FUNCTION = "AWS::Serverless::Function"
LAYER = "AWS::Serverless::LayerVersion"
TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"
BUCKET = "AWS::S3::Bucket"
SERVERLESS_STATE_MACHINE = "AWS::Serverless::StateMachine"
STATE_MACHINE = "AWS::StepFunctions::StateMachine"
PIPE = "AWS::Pipes::Pipe"
API = "AWS::Serverless::Api"
LOG_GROUP = "AWS::Logs::LogGroup"
EVENT_RULE = "AWS::Events::Rule"
SECRET = "AWS::SecretsManager::Secret"  # noqa: S105 - a resource type, not a password

STATE_MACHINE_TYPES = frozenset({SERVERLESS_STATE_MACHINE, STATE_MACHINE})

#: Types the runtime creates or serves.
SUPPORTED_TYPES = frozenset(
    {
        FUNCTION, LAYER, TABLE, QUEUE, BUCKET, SERVERLESS_STATE_MACHINE, STATE_MACHINE, PIPE, API, LOG_GROUP,
        EVENT_RULE, SECRET, *sns.NAMERS, *cloudwatch.NAMERS,
    }
)  # fmt: skip

#: Types that only matter on AWS (permissions); they are listed at start-up, not emulated.
IGNORED_TYPES = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::Lambda::Permission",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
    }
)

#: SAM ``Globals`` sections and the resource types they apply to.
_GLOBALS_TARGETS = {
    "Function": FUNCTION,
    "Api": API,
    "StateMachine": SERVERLESS_STATE_MACHINE,
    "LayerVersion": LAYER,
}

#: The logical id SAM gives the API it creates for ``Api`` events without ``RestApiId``.
IMPLICIT_API_ID = "ServerlessRestApi"


@dataclass(frozen=True)
class DeclaredResource:
    """One resource as the template declares it (Globals merged, intrinsics not yet resolved)."""

    logical_id: str
    type: str
    properties: Mapping[str, Any]
    depends_on: tuple[str, ...] = ()


@dataclass
class Template:
    path: Path
    pseudo: PseudoParameters
    endpoint_url: str
    parameters: dict[str, Any]
    conditions: dict[str, bool]
    resources: dict[str, DeclaredResource]
    outputs: dict[str, Any]
    mappings: dict[str, Any]
    _identities: dict[str, Identity] = field(default_factory=dict)
    _identifying: set[str] = field(default_factory=set)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    # --- loading --------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        endpoint_url: str,
        pseudo: PseudoParameters | None = None,
        parameter_overrides: Mapping[str, Any] | None = None,
    ) -> Template:
        path = Path(path).resolve()
        try:
            document = _plain(cfn_yaml.loads(path.read_text(), fname=str(path)))
        except OSError as error:
            raise TemplateError(f"cannot read template {path}: {error}") from error
        if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
            raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
        pseudo = pseudo or PseudoParameters()
        parameters = _parameter_values(document.get("Parameters") or {}, parameter_overrides or {})
        mappings = document.get("Mappings") or {}
        conditions = _evaluate_conditions(document.get("Conditions") or {}, parameters, pseudo, mappings)
        globals_section = document.get("Globals") or {}
        resources: dict[str, DeclaredResource] = {}
        for logical_id, body in document["Resources"].items():
            condition = body.get("Condition")
            if condition is not None and not conditions.get(condition, False):
                continue
            resource_type = body.get("Type", "")
            properties = body.get("Properties") or {}
            for section, target_type in _GLOBALS_TARGETS.items():
                if resource_type == target_type and section in globals_section:
                    properties = _merge_globals(globals_section[section], properties)
            depends_on = body.get("DependsOn") or ()
            if isinstance(depends_on, str):
                depends_on = (depends_on,)
            resources[logical_id] = DeclaredResource(logical_id, resource_type, properties, tuple(depends_on))
        return cls(
            path=path,
            pseudo=pseudo,
            endpoint_url=endpoint_url.rstrip("/"),
            parameters=parameters,
            conditions=conditions,
            resources=resources,
            outputs=document.get("Outputs") or {},
            mappings=mappings,
        )

    # --- queries --------------------------------------------------------------------

    def of_type(self, *types: str) -> list[DeclaredResource]:
        return [resource for resource in self.resources.values() if resource.type in types]

    @property
    def unsupported(self) -> list[DeclaredResource]:
        known = SUPPORTED_TYPES | IGNORED_TYPES
        return [resource for resource in self.resources.values() if resource.type not in known]

    @property
    def ignored(self) -> list[DeclaredResource]:
        return [resource for resource in self.resources.values() if resource.type in IGNORED_TYPES]

    def resolver(self) -> Resolver:
        return Resolver(
            parameters=self.parameters,
            pseudo=self.pseudo,
            conditions=self.conditions,
            mappings=self.mappings,
            identify=self.identity,
        )

    def resolve(self, value: Any) -> Any:
        return self.resolver().resolve(value)

    def resolved_properties(self, logical_id: str) -> dict[str, Any]:
        return self.resolve(dict(self.resources[logical_id].properties)) or {}

    def identity(self, logical_id: str) -> Identity:
        """``Ref`` and ``Fn::GetAtt`` answers for ``logical_id`` (computed once, then cached)."""
        if logical_id in self._identities:
            return self._identities[logical_id]
        if logical_id in self._identifying:
            raise TemplateError(f"'{logical_id}' refers to itself while naming itself")
        self._identifying.add(logical_id)
        try:
            identity = self._compute_identity(logical_id)
        finally:
            self._identifying.discard(logical_id)
        self._identities[logical_id] = identity
        return identity

    def update_identity(self, logical_id: str, *, ref: Any = None, **attributes: Any) -> Identity:
        """Replace what ``Ref`` / ``Fn::GetAtt`` answer with what the endpoint assigned on creation
        (a secret's ARN suffix, a table's stream label); only resources created later see it."""
        current = self.identity(logical_id)
        identity = Identity(ref=current.ref if ref is None else ref, attributes={**current.attributes, **attributes})
        self._identities[logical_id] = identity
        return identity

    def dependencies(self, logical_id: str) -> set[str]:
        """Logical ids ``logical_id`` refers to (Ref, GetAtt, Sub, DependsOn)."""
        resource = self.resources[logical_id]
        found = set(resource.depends_on) | _referenced_names(resource.properties)
        return {name for name in found if name in self.resources and name != logical_id}

    def creation_order(self) -> list[str]:
        """Logical ids ordered so that everything a resource refers to comes first."""
        ordered: list[str] = []
        state: dict[str, str] = {}

        def visit(logical_id: str) -> None:
            if state.get(logical_id) == "done":
                return
            if state.get(logical_id) == "visiting":
                raise TemplateError(f"circular dependency through '{logical_id}'")
            state[logical_id] = "visiting"
            for dependency in sorted(self.dependencies(logical_id)):
                visit(dependency)
            state[logical_id] = "done"
            ordered.append(logical_id)

        for logical_id in self.resources:
            visit(logical_id)
        return ordered

    # --- naming ---------------------------------------------------------------------

    def _compute_identity(self, logical_id: str) -> Identity:
        resource = self.resources.get(logical_id)
        if resource is None:
            return self._implicit_identity(logical_id)
        namer = _NAMERS.get(resource.type, _name_unsupported)
        return namer(self, resource)

    def _implicit_identity(self, logical_id: str) -> Identity:
        if logical_id == IMPLICIT_API_ID:
            return _api_identity(logical_id)
        function_id = logical_id.removesuffix("Role")
        if function_id != logical_id and self.resources.get(function_id, None) is not None:
            return _role_identity(self, logical_id, f"{self.pseudo.stack_name}-{logical_id}")
        raise UnresolvableReferenceError(f"'{logical_id}' is not declared in {self.path.name}")

    def default_name(self, resource: DeclaredResource, name_property: str, max_length: int = 64) -> str:
        """The template's explicit name, else ``<stack>-<LogicalId>`` (AWS adds a random suffix)."""
        explicit = resource.properties.get(name_property)
        if explicit is not None:
            return str(self.resolve(explicit))
        return f"{self.pseudo.stack_name}-{resource.logical_id}"[:max_length]

    def arn(self, service: str, resource_part: str, *, region: bool = True, account: bool = True) -> str:
        return ":".join(
            [
                "arn",
                self.pseudo.partition,
                service,
                self.pseudo.region if region else "",
                self.pseudo.account_id if account else "",
                resource_part,
            ]
        )


# --- per-type identities -----------------------------------------------------------------


def _name_function(template: Template, resource: DeclaredResource) -> Identity:
    name = template.default_name(resource, "FunctionName")
    arn = template.arn("lambda", f"function:{name}")
    return Identity(ref=name, attributes={"Arn": arn})


def _name_layer(template: Template, resource: DeclaredResource) -> Identity:
    name = template.default_name(resource, "LayerName", 140)
    return Identity(ref=template.arn("lambda", f"layer:{name}:1"))


def _name_table(template: Template, resource: DeclaredResource) -> Identity:
    name = template.default_name(resource, "TableName", 255)
    arn = template.arn("dynamodb", f"table/{name}")
    # A placeholder until the table exists: the provisioner sets moto's LatestStreamArn (its label
    # is the creation time). A table without StreamSpecification keeps it.
    return Identity(ref=name, attributes={"Arn": arn, "StreamArn": f"{arn}/stream/local"})


def _name_queue(template: Template, resource: DeclaredResource) -> Identity:
    name = template.default_name(resource, "QueueName", 80)
    if resource.properties.get("FifoQueue") and not name.endswith(".fifo"):
        name = f"{name[:75]}.fifo"
    url = f"{template.endpoint_url}/{template.pseudo.account_id}/{name}"
    arn = template.arn("sqs", name)
    return Identity(ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url})


def _name_bucket(template: Template, resource: DeclaredResource) -> Identity:
    name = template.default_name(resource, "BucketName", 63).lower()
    region = template.pseudo.region
    return Identity(
        ref=name,
        attributes={
            "Arn": f"arn:{template.pseudo.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
        },
    )


def _name_state_machine(template: Template, resource: DeclaredResource) -> Identity:
    name_property = "Name" if resource.type == SERVERLESS_STATE_MACHINE else "StateMachineName"
    name = template.default_name(resource, name_property, 80)
    arn = template.arn("states", f"stateMachine:{name}")
    return Identity(ref=arn, attributes={"Arn": arn, "Name": name})


def _name_pipe(template: Template, resource: DeclaredResource) -> Identity:
    name = template.default_name(resource, "Name")
    return Identity(ref=name, attributes={"Arn": template.arn("pipes", f"pipe/{name}")})


def _api_identity(logical_id: str) -> Identity:
    rest_api_id = hashlib.sha256(logical_id.encode()).hexdigest()[:10]
    return Identity(ref=rest_api_id, attributes={"RootResourceId": rest_api_id[:6]})


def _name_api(template: Template, resource: DeclaredResource) -> Identity:
    return _api_identity(resource.logical_id)


def _role_identity(template: Template, logical_id: str, name: str) -> Identity:
    arn = template.arn("iam", f"role/{name}", region=False)
    return Identity(ref=name, attributes={"Arn": arn, "RoleId": f"AROA{logical_id.upper()[:17]}"})


def _name_role(template: Template, resource: DeclaredResource) -> Identity:
    return _role_identity(template, resource.logical_id, template.default_name(resource, "RoleName"))


def _name_managed_policy(template: Template, resource: DeclaredResource) -> Identity:
    name = template.default_name(resource, "ManagedPolicyName")
    path = template.resolve(resource.properties.get("Path")) or "/"
    return Identity(ref=template.arn("iam", f"policy{path}{name}", region=False), attributes={})


def _name_log_group(template: Template, resource: DeclaredResource) -> Identity:
    name = template.default_name(resource, "LogGroupName", 512)
    return Identity(ref=name, attributes={"Arn": template.arn("logs", f"log-group:{name}:*")})


def _name_rule(template: Template, resource: DeclaredResource) -> Identity:
    name = template.default_name(resource, "Name")
    return Identity(ref=name, attributes={"Arn": template.arn("events", f"rule/{name}")})


def _name_secret(template: Template, resource: DeclaredResource) -> Identity:
    # Ref (and GetAtt Id) is the ARN; Secrets Manager adds a random suffix, so the provisioner
    # replaces this provisional ARN with the created secret's.
    name = template.default_name(resource, "Name", 512)
    arn = template.arn("secretsmanager", f"secret:{name}")
    return Identity(ref=arn, attributes={"Id": arn})


def _name_unsupported(template: Template, resource: DeclaredResource) -> Identity:
    # Reported at start-up; references to it resolve to recognisable placeholders.
    return Identity(ref=resource.logical_id, attributes=_PlaceholderAttributes(resource.logical_id))


class _PlaceholderAttributes(dict):
    def __init__(self, logical_id: str):
        super().__init__()
        self._logical_id = logical_id

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return f"{self._logical_id}.{key}"


_NAMERS: dict[str, Callable[[Template, DeclaredResource], Identity]] = {
    FUNCTION: _name_function,
    LAYER: _name_layer,
    TABLE: _name_table,
    QUEUE: _name_queue,
    BUCKET: _name_bucket,
    SERVERLESS_STATE_MACHINE: _name_state_machine,
    STATE_MACHINE: _name_state_machine,
    PIPE: _name_pipe,
    API: _name_api,
    "AWS::IAM::Role": _name_role,
    "AWS::IAM::ManagedPolicy": _name_managed_policy,
    LOG_GROUP: _name_log_group,
    EVENT_RULE: _name_rule,
    SECRET: _name_secret,
    **sns.NAMERS,
    **cloudwatch.NAMERS,
}


# --- helpers -----------------------------------------------------------------------------


def _plain(node: Any) -> Any:
    """cfn-lint's node classes -> plain dicts, lists and scalars."""
    return json.loads(json.dumps(node))


def _parameter_values(declared: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(f"parameter '{name}' has no Default; pass it as an override")
        if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
            value = [item.strip() for item in value.split(",")]
        elif not isinstance(value, list):
            value = str(value)
        values[name] = value
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"parameter overrides for undeclared parameters: {sorted(unknown)}")
    return values


def _evaluate_conditions(
    declared: Mapping[str, Any],
    parameters: Mapping[str, Any],
    pseudo: PseudoParameters,
    mappings: Mapping[str, Any],
) -> dict[str, bool]:
    conditions = _LazyConditions(declared)
    conditions.resolver = Resolver(parameters=parameters, pseudo=pseudo, conditions=conditions, mappings=mappings)
    return {name: conditions[name] for name in declared}


class _LazyConditions(Mapping[str, bool]):
    """Conditions may refer to each other (``Condition: Other``); evaluate on first use."""

    def __init__(self, declared: Mapping[str, Any]):
        self._declared = declared
        self._results: dict[str, bool] = {}
        self.resolver: Resolver | None = None

    def __getitem__(self, name: str) -> bool:
        if name not in self._results:
            assert self.resolver is not None
            self._results[name] = self.resolver.evaluate_condition(self._declared[name])
        return self._results[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._declared)

    def __len__(self) -> int:
        return len(self._declared)


def _merge_globals(global_value: Any, local_value: Any) -> Any:
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = _merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def _referenced_names(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str):
                return {argument}
            if key == "Fn::GetAtt":
                name = argument.split(".")[0] if isinstance(argument, str) else argument[0]
                return {name} if isinstance(name, str) else set()
            if key == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                local = set(argument[1]) if isinstance(argument, list) else set()
                for variable in _sub_variables(text):
                    if variable not in local:
                        found.add(variable.split(".")[0])
                if isinstance(argument, list):
                    found |= _referenced_names(argument[1])
                return found
        for item in value.values():
            found |= _referenced_names(item)
    elif isinstance(value, list):
        for item in value:
            found |= _referenced_names(item)
    return found


def _sub_variables(text: str) -> list[str]:
    return [name for name in SUB_VARIABLE.findall(text) if not name.startswith("!")]
