"""The workflow steps: one module per state of the state machine, sharing the runner."""
