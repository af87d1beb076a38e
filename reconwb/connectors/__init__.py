"""Connectors fetch transactions from one kind of source; see `errors` for what they raise."""
