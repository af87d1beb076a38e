"""Simulators of the outside world (a bank portal, an aggregator API) for the demo and the tests."""
