"""Run a SAM template on one machine, with no AWS account and no Docker.

moto serves the AWS endpoint and runs the state machines; this package adds what moto lacks for a
SAM application: the template's resources provisioned, Lambda functions run from their code, event
sources polled, API Gateway served. One subpackage per AWS service it stands in for. It knows
nothing of the application it runs. Start with :class:`sam_emulator.runtime.LocalRuntime`.
"""
