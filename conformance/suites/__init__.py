"""The shipped conformance suites, collected by ``pytest --pyargs conformance.suites``.

``test_api`` (marker ``api``): schemathesis over every operation of the contract plus the Bandwidth
checks of :mod:`conformance.api.checks`, and deterministic tests of call state and list filters.

``test_bxml`` (marker ``bxml``): on a live call, generated valid BXML is accepted by
``PUT .../bxml`` and deliberately broken BXML refused with 400, without harming the call.

``test_flows_calls``, ``test_flows_media``, ``test_flows_bridging`` (marker ``flows``): every
documented webhook sequence as a loopback-call test (:mod:`conformance.suites.loopback`), with order
and payload checks on the webhook sink.
"""
