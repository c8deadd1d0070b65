"""The shipped conformance suites, collected by ``pytest --pyargs conformance.suites``.

``test_api`` (marker ``api``): schemathesis over every operation of the contract plus the Bandwidth
checks of :mod:`conformance.api.checks`, and deterministic tests of call state and list filters.
"""
