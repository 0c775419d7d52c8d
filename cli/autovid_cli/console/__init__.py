"""The web console: executions and jobs of a stack, as the Step Functions console shows executions.

``autovid up`` serves it next to the REST API (``--console-port``); ``autovid console`` serves it
against a running local stack or a deployed one (``--stack NAME``).
"""
