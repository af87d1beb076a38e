"""The open-banking service: what a connection through a provider needs beyond one fetch, written once.

`reconwb.connectors` holds the thin connectors that read accounts and transactions (one per provider: Lean's
aggregator, Plaid, GoCardless Bank Account Data). Everything else a provider connection lives through is here,
provider-neutral, with one adapter per provider that maps the provider's API and errors onto it: linking,
consent and its expiry (`consent`), the reconnect/update step after the user acted (`linking.reconnect_step`),
parked asynchronous results (`pending`), inbound provider webhooks (`webhooks`) and bank lists (`banklist`).
This layer may import the engine (`sync`, `lifecycle`); the connectors never import it.
"""
