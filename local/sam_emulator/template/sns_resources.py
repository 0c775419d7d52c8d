"""The template's SNS topics and subscriptions, created in the local endpoint.

``AWS::SNS::Topic``: ``Ref`` is the topic ARN, ``Fn::GetAtt`` gives ``TopicArn`` and ``TopicName``.
``AWS::SNS::Subscription``: created with its protocol and endpoint; moto records it, and a message
published to the topic reaches SQS and Lambda subscribers, but nothing is mailed to an ``email``
subscriber (the start-up notes say so).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sam_emulator.errors import TemplateError
from sam_emulator.template.intrinsics import Identity

if TYPE_CHECKING:
    from sam_emulator.template.parser import DeclaredResource, Template
    from sam_emulator.template.provision import ProvisionedStack

TOPIC = "AWS::SNS::Topic"
SUBSCRIPTION = "AWS::SNS::Subscription"

#: Topic properties that are SNS attributes of the same name.
_TOPIC_ATTRIBUTES = ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication", "SignatureVersion")
#: Subscription properties that are SNS subscription attributes of the same name.
_SUBSCRIPTION_ATTRIBUTES = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery")
_SUBSCRIPTION_ATTRIBUTES += ("RedrivePolicy",)
#: Protocols moto accepts and delivers nothing to.
_NOT_DELIVERED = frozenset({"email", "email-json", "sms"})


def _name_topic(template: Template, resource: DeclaredResource) -> Identity:
    name = template.default_name(resource, "TopicName", 256)
    if _truthy(template.resolve(resource.properties.get("FifoTopic"))) and not name.endswith(".fifo"):
        name = f"{name[:251]}.fifo"
    arn = template.arn("sns", name)
    return Identity(ref=arn, attributes={"TopicArn": arn, "TopicName": name})


def _name_subscription(template: Template, resource: DeclaredResource) -> Identity:
    # Provisional: SNS assigns the subscription's id; the provisioner replaces it on creation.
    topic_arn = template.resolve(resource.properties.get("TopicArn"))
    return Identity(ref=f"{topic_arn}:{resource.logical_id}", attributes={"Arn": f"{topic_arn}:{resource.logical_id}"})


NAMERS: dict[str, Callable[[Template, DeclaredResource], Identity]] = {
    TOPIC: _name_topic,
    SUBSCRIPTION: _name_subscription,
}


def creators(
    template: Template, client: Callable[[str], Any], stack: ProvisionedStack
) -> dict[str, Callable[[DeclaredResource], None]]:
    """The provisioner's ``_create_*`` methods for the SNS types."""

    def create_topic(resource: DeclaredResource) -> None:
        props = template.resolved_properties(resource.logical_id)
        identity = template.identity(resource.logical_id)
        attributes = {key: _text(props[key]) for key in _TOPIC_ATTRIBUTES if key in props}
        request: dict[str, Any] = {"Name": identity.attributes["TopicName"], "Attributes": attributes}
        if props.get("Tags"):
            request["Tags"] = props["Tags"]
        sns = client("sns")
        arn = sns.create_topic(**request)["TopicArn"]
        for subscription in props.get("Subscription") or []:  # the topic's inline subscriptions
            _subscribe(sns, stack, resource.logical_id, arn, subscription["Protocol"], subscription["Endpoint"], {})

    def create_subscription(resource: DeclaredResource) -> None:
        props = template.resolved_properties(resource.logical_id)
        for required in ("TopicArn", "Protocol"):
            if required not in props:
                raise TemplateError(f"{resource.logical_id}: {required} is required")
        attributes = {key: _text(props[key]) for key in _SUBSCRIPTION_ATTRIBUTES if key in props}
        arn = _subscribe(
            client("sns"),
            stack,
            resource.logical_id,
            props["TopicArn"],
            props["Protocol"],
            props.get("Endpoint", ""),
            attributes,
        )
        template.update_identity(resource.logical_id, ref=arn, Arn=arn)

    return {TOPIC: create_topic, SUBSCRIPTION: create_subscription}


def _subscribe(
    sns: Any,
    stack: ProvisionedStack,
    logical_id: str,
    topic_arn: str,
    protocol: str,
    endpoint: str,
    attributes: dict[str, str],
) -> str:
    request: dict[str, Any] = {"TopicArn": topic_arn, "Protocol": protocol, "Endpoint": endpoint}
    if attributes:
        request["Attributes"] = attributes
    if protocol in _NOT_DELIVERED:
        stack.notes.append(f"{logical_id}: {protocol} subscription created; nothing is sent to {endpoint} locally")
    return sns.subscribe(**request)["SubscriptionArn"]


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else json.dumps(value)
