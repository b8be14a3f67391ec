"""The ``ledger`` command: a thin click shell over the public ``ledger`` API."""
