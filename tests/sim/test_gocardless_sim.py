"""The GoCardless simulator's tokens and consent flow, over real HTTP."""

from __future__ import annotations

import httpx

from reconwb.sim import gocardless as sim


def test_tokens_consent_and_data() -> None:
    scenario = sim.scenario()
    with sim.start_gocardless() as handle, httpx.Client(base_url=handle.url + "/api/v2", timeout=10) as http:
        wrong = {"secret_id": scenario["secret_id"], "secret_key": "no"}
        assert http.post("/token/new/", json=wrong).status_code == 401
        tokens = http.post("/token/new/", json={"secret_id": scenario["secret_id"],
                                                "secret_key": scenario["secret_key"]}).json()
        assert http.get("/institutions/").status_code == 401  # no bearer token
        auth = {"authorization": f"Bearer {tokens['access']}"}
        assert http.get("/institutions/", headers={"authorization": f"Bearer {tokens['refresh']}"}).status_code == 401
        refreshed = http.post("/token/refresh/", json={"refresh": tokens["refresh"]}).json()
        assert refreshed["access"] != tokens["access"]
        agreement = http.post("/agreements/enduser/", headers=auth, json={
            "institution_id": "SANDBOXFINANCE_SFIN0000", "max_historical_days": 731}).json()
        assert agreement["summary"] == "Invalid agreement"  # more than 730 days of history
        agreement = http.post("/agreements/enduser/", headers=auth, json={
            "institution_id": "SANDBOXFINANCE_SFIN0000", "access_valid_for_days": 30}).json()
        requisition = http.post("/requisitions/", headers=auth, json={
            "institution_id": "SANDBOXFINANCE_SFIN0000", "agreement": agreement["id"],
            "redirect": "http://127.0.0.1/back"}).json()
        assert requisition["status"] == "CR" and requisition["accounts"] == []
        consent = httpx.get(requisition["link"], follow_redirects=False)
        assert consent.status_code == 302 and consent.headers["location"].startswith("http://127.0.0.1/back?ref=")
        linked = http.get(f"/requisitions/{requisition['id']}/", headers=auth).json()
        assert linked["status"] == "LN" and len(linked["accounts"]) == 2
        listed = http.get(f"/accounts/{linked['accounts'][0]}/transactions/", headers=auth).json()["transactions"]
        assert len(listed["booked"]) == 8 and listed["pending"] == []
        assert all(r["transactionId"] and r["internalTransactionId"] for r in listed["booked"])
