"""The Plaid simulator as Plaid's own SDK sees it."""

from __future__ import annotations

import json

import pytest

from reconwb.sim import plaid as sim_plaid


def test_the_sdk_reads_accounts_and_a_transactions_sync_with_the_scenario_keys() -> None:
    import plaid as sdk
    from plaid.api import plaid_api
    from plaid.model.accounts_get_request import AccountsGetRequest
    from plaid.model.transactions_sync_request import TransactionsSyncRequest

    scenario = sim_plaid.scenario()
    token = next(i["access_token"] for i in scenario["items"] if i["behaviour"] == "healthy")
    with sim_plaid.start_plaid() as handle:
        config = sdk.Configuration(host=handle.url, api_key={"clientId": scenario["client_id"],
                                                             "secret": scenario["secret"]})
        client = plaid_api.PlaidApi(sdk.ApiClient(config))
        found = client.accounts_get(AccountsGetRequest(access_token=token))
        assert len(found.accounts) == 2 and found.item.consent_expiration_time is not None
        added, cursor, pages = [], "", 0
        while True:
            page = client.transactions_sync(TransactionsSyncRequest(access_token=token, cursor=cursor, count=7))
            added += page.added
            cursor, pages = page.next_cursor, pages + 1
            if not page.has_more:
                break
        assert pages == 3 and len(added) == 20 and len({t.transaction_id for t in added}) == 20
        assert {t.account_id for t in added} == {a.account_id for a in found.accounts}
        wrong = sdk.Configuration(host=handle.url, api_key={"clientId": scenario["client_id"], "secret": "nope"})
        with pytest.raises(sdk.ApiException) as refused:
            plaid_api.PlaidApi(sdk.ApiClient(wrong)).accounts_get(AccountsGetRequest(access_token=token))
        assert json.loads(refused.value.body)["error_code"] == "INVALID_API_KEYS"
