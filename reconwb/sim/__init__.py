"""Simulators of the outside world (a bank portal, an open-banking aggregator) for the demo and the tests."""
