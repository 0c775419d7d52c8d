"""Secrets Manager in the state folder: every secret with all its versions.

Secrets are few and small, so after each acknowledged write a region's whole set is saved to
``secretsmanager/<account>-<region>``. At start-up the saved set replaces what provisioning made:
a secret the template generates (``GenerateSecretString``) keeps the values it had, so signatures
made with it stay valid across restarts. Its ARN is the one provisioning gave it (the suffix is
random on each start, as when a stack is created again); the template's references follow it.
"""

from __future__ import annotations

from typing import Any

from sam_emulator.state.directory import StateDirectory, read_pickle, write_pickle
from sam_emulator.state.endpoint import EndpointRequest

_READS = ("Get", "List", "Describe", "BatchGet", "Validate")


def _backend(account: str, region: str) -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    return secretsmanager_backends[account][region]


class SecretsManagerRecorder:
    service = "secretsmanager"

    def __init__(self, state: StateDirectory):
        self._root = state.folder("secretsmanager")

    def is_write(self, request: EndpointRequest) -> bool:
        return bool(request.operation) and not request.operation.startswith(_READS)

    def record(self, request: EndpointRequest) -> None:
        self.save(request.account, request.region)

    def save(self, account: str, region: str) -> None:
        secrets = dict(_backend(account, region).secrets)
        write_pickle(self._root / f"{account}-{region}", secrets)

    def restore(self, account: str, region: str) -> int:
        """Put the saved secrets back, replacing what provisioning generated; then save the set
        (on a first start, the secrets provisioning just generated)."""
        restored = 0
        for path in self._root.iterdir():
            if path.name.startswith("."):
                continue
            saved_account, saved_region = path.name.split("-", 1)
            store = _backend(saved_account, saved_region).secrets
            for name, secret in read_pickle(path).items():
                current = dict.get(store, name)
                if current is None:
                    dict.__setitem__(store, name, secret)
                else:
                    # Provisioning made this secret again under a new ARN (the template's
                    # resources resolve to it): it takes back its versions and values.
                    current.__dict__.update({key: value for key, value in vars(secret).items() if key != "arn"})
                restored += 1
        self.save(account, region)
        return restored
