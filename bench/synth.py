"""Labelled synthetic data for the matching benchmark: payments, deposits and the true links between them.

Every payment is drawn into one fate: paid with the exact reference, with the reference inside free text, with
a typo in the reference, with a fee withheld, with no reference at all (payer name and amount only), split over
several deposits, partly paid, paid in a batch that lists the references, paid in a batch that lists nothing,
or not paid at all. A third of the invoices carry one of a few common amounts (49.00, 99.00, ...), and deposits
unrelated to any invoice fill the transactions up to the requested size (5 % of them from real payers, a fifth
of those with a common amount: the case where a payer-and-amount match is wrong). Vectorised (numpy/polars) so that a
million rows take seconds.

    python bench/synth.py N OUTDIR   # writes transactions.csv, payments.csv, truth.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

FATES = {  # share of payments
    "exact": 0.34, "in_text": 0.20, "typo": 0.05, "fee": 0.07, "no_ref": 0.07, "split": 0.04, "partial": 0.01,
    "batch_listed": 0.05, "batch_silent": 0.03, "unpaid": 0.14,
}
COMMON = np.array([4900, 9900, 1999, 25000, 2900])
WORDS_A = ["Nord", "Sud", "Blue", "Red", "Alpen", "Rhein", "Oak", "Pine", "Iron", "Silver", "Lake", "Hill"]
WORDS_B = ["Logistik", "Bau", "Media", "Foods", "Tech", "Textil", "Optik", "Energy", "Pharma", "Design"]
SUFFIX = ["GmbH", "Ltd", "AG", "Inc.", "B.V.", "SARL"]
TEXT = ["Payment for", "Zahlung", "Invoice", "Rechnung Nr", "Settlement of", "Re:"]


def _names(ids: np.ndarray, rng: np.random.Generator) -> pl.Series:
    frame = pl.DataFrame({"i": ids})
    return frame.select(
        pl.concat_str([
            pl.col("i").map_batches(lambda s: pl.Series(np.array(WORDS_A)[s.to_numpy() % len(WORDS_A)])),
            pl.col("i").map_batches(lambda s: pl.Series(np.array(WORDS_B)[(s.to_numpy() // 12) % len(WORDS_B)])),
            pl.col("i").cast(pl.String),
            pl.col("i").map_batches(lambda s: pl.Series(np.array(SUFFIX)[(s.to_numpy() // 7) % len(SUFFIX)])),
        ], separator=" ")
    ).to_series()


def generate(n: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(transactions, payments, truth) for about `n` payments and exactly `n` transactions."""
    rng = np.random.default_rng(seed)
    n_pay = n
    n_payers = max(n_pay // 6, 10)
    payer = rng.integers(0, n_payers, n_pay)
    common = rng.random(n_pay) < 0.33
    amount = np.where(common, COMMON[rng.integers(0, len(COMMON), n_pay)],
                      np.round(np.exp(rng.normal(10.0, 1.3, n_pay))).astype(np.int64) + 500)
    issued = rng.integers(0, 365, n_pay)
    due = issued + rng.choice([14, 30], n_pay)
    # batch payers: their invoices come in clusters of 2-4 with close due dates, paid together
    batch = np.isin(fate := rng.choice(list(FATES), n_pay, p=np.array(list(FATES.values())) / sum(FATES.values())),
                    ["batch_listed", "batch_silent"])
    idx = np.flatnonzero(batch)
    idx = idx[np.argsort(fate[idx], kind="stable")]
    sizes = rng.integers(2, 5, len(idx))
    group = np.repeat(np.arange(len(idx)), sizes)[: len(idx)]
    first = idx[np.searchsorted(group, group)]
    payer[idx] = payer[first]
    due[idx] = due[first] + rng.integers(-10, 11, len(idx))
    fate[idx] = fate[first]
    issued[idx] = due[idx] - 14
    batch_group = np.full(n_pay, -1)
    batch_group[idx] = group
    ref_numbers = rng.choice(90_000_000, n_pay, replace=False) + 10_000_000
    currency = np.where(rng.random(n_pay) < 0.9, "EUR", "USD")
    currency[idx] = currency[first]
    base = np.datetime64("2025-01-01")
    names = _names(payer, rng)
    payments = pl.DataFrame({
        "payment_id": [f"P{i:07d}" for i in range(n_pay)],
        "amount_cents": amount,
        "currency": currency,
        "issued_on": base + issued.astype("timedelta64[D]"),
        "due_on": base + due.astype("timedelta64[D]"),
        "reference": [f"INV-{r}" for r in ref_numbers],
        "payer": names,
        "payer_no": payer,
        "fate": fate,
        "batch_group": batch_group,
    })
    deposits = _deposits(payments, rng)
    n_paying = deposits.height
    n_noise = max(n - n_paying, 0)
    noise = pl.DataFrame({
        "payment_id": [None] * n_noise,
        "cents": np.where(rng.random(n_noise) < 0.2, COMMON[rng.integers(0, len(COMMON), n_noise)],
                          np.round(np.exp(rng.normal(9.0, 1.5, n_noise))).astype(np.int64) + 100),
        "currency": np.where(rng.random(n_noise) < 0.9, "EUR", "USD"),
        "booked": rng.integers(0, 420, n_noise),
        "reference": [""] * n_noise,
        "description": [f"{['CARD REFUND', 'TRANSFER', 'INTEREST', 'SEPA CREDIT'][i % 4]} {i % 997}"
                        for i in range(n_noise)],
        "counterparty": [f"Other Party {i % 50_000}" for i in range(n_noise)],
    })
    # a few unrelated deposits come from real payers (a refund, a payment for something not invoiced here)
    known = rng.random(n_noise) < 0.05
    noise = noise.with_columns(counterparty=pl.when(pl.Series(known)).then(
        pl.Series(names.gather(rng.integers(0, n_pay, n_noise)))).otherwise(pl.col("counterparty")))
    txns = pl.concat([deposits.select(noise.columns), noise.cast(deposits.select(noise.columns).schema)])
    order = rng.permutation(txns.height)
    txns = txns[order].with_row_index("row").with_columns(
        txn_id=pl.format("T{}", pl.col("row") + 1),
        account_id=pl.lit("ACC-1"),
        booked_on=pl.lit(base) + pl.duration(days=pl.col("booked")),
        amount=_money("cents"),
    )
    truth = txns.filter(pl.col("payment_id").is_not_null()).select(
        "txn_id", payment_id=pl.col("payment_id").str.split(",")
    ).explode("payment_id").join(payments.select("payment_id", kind="fate"), on="payment_id", how="left")
    out_txns = txns.select("txn_id", "account_id", "booked_on", "amount", "currency", "description", "reference",
                           "counterparty")
    out_payments = payments.select(
        "payment_id", amount=_money("amount_cents"),
        currency="currency", issued_on="issued_on", due_on="due_on", reference="reference", payer="payer",
    )
    return out_txns, out_payments, truth


def _money(column: str) -> pl.Expr:
    """Integer cents as an exact decimal string."""
    cents = pl.col(column)
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))


def _variant_name(names: pl.Expr, u: pl.Expr) -> pl.Expr:
    """How the bank shows the payer: as invoiced, upper-case without legal form, or missing."""
    return (
        pl.when(u < 0.6).then(names)
        .when(u < 0.9).then(names.str.replace(r" \S+$", "").str.to_uppercase())
        .otherwise(pl.lit(""))
    )


def _deposits(payments: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    n = payments.height
    p = payments.with_columns(
        u=pl.Series(rng.random(n)), v=pl.Series(rng.random(n)),
        lag=pl.Series(rng.integers(-5, 21, n)), word=pl.Series(rng.integers(0, len(TEXT), n)),
        typo_pos=pl.Series(rng.integers(4, 12, n)), typo_digit=pl.Series(rng.integers(0, 10, n)),
    ).with_columns(
        booked=(pl.col("due_on") - pl.date(2025, 1, 1)).dt.total_days() + pl.col("lag"),
        counterparty=_variant_name(pl.col("payer"), pl.col("u")),
        text=pl.col("word").map_elements(lambda i: TEXT[i], return_dtype=pl.String),
    )
    ref, text = pl.col("reference"), pl.col("text")
    typo_ref = pl.concat_str([
        ref.str.slice(0, pl.col("typo_pos")),
        ((ref.str.slice(pl.col("typo_pos"), 1).cast(pl.Int64) + 1 + pl.col("typo_digit") % 9) % 10).cast(pl.String),
        ref.str.slice(pl.col("typo_pos") + 1),
    ])
    fee = (pl.col("amount_cents") * 2900 + 50_000) // 100_000 + 30
    one = p.filter(pl.col("fate").is_in(["exact", "in_text", "typo", "fee", "no_ref"])).select(
        payment_id="payment_id",
        cents=pl.when(pl.col("fate") == "fee").then(pl.col("amount_cents") - fee).otherwise("amount_cents"),
        currency="currency", booked="booked",
        reference=pl.when(pl.col("fate").is_in(["exact", "fee"])).then(ref).otherwise(pl.lit("")),
        description=pl.when(pl.col("fate") == "in_text").then(pl.concat_str([text, ref, pl.lit("thank you")],
                                                                             separator=" "))
        .when(pl.col("fate") == "typo").then(pl.concat_str([text, typo_ref], separator=" "))
        .when(pl.col("fate") == "fee").then(pl.lit("CARD SETTLEMENT"))
        .otherwise(pl.lit("SEPA CREDIT TRANSFER")),
        counterparty="counterparty",
    )
    # splits: 2-3 parts that add up exactly (sums of cents); partial: one part of about half
    sp = p.filter(pl.col("fate").is_in(["split", "partial"])).with_columns(
        parts=pl.when(pl.col("fate") == "partial").then(1).otherwise(2 + (pl.col("v") > 0.5).cast(pl.Int64))
    )
    sp = sp.with_columns(k=pl.int_ranges(0, pl.col("parts"))).explode("k").with_columns(
        share=pl.when(pl.col("fate") == "partial").then(pl.col("amount_cents") // 2)
        .when(pl.col("k") < pl.col("parts") - 1).then(pl.col("amount_cents") // pl.col("parts"))
        .otherwise(pl.col("amount_cents") - (pl.col("parts") - 1) * (pl.col("amount_cents") // pl.col("parts")))
    )
    split = sp.filter(pl.col("share") > 0).select(
        payment_id="payment_id", cents="share", currency="currency", booked=pl.col("booked") + pl.col("k") * 7,
        reference=ref, description=pl.concat_str([pl.lit("part"), (pl.col("k") + 1).cast(pl.String)],
                                                 separator=" "),
        counterparty="counterparty",
    )
    # batches: a payer's invoices of the same currency grouped 2-4 at a time into one deposit
    bt = p.filter(pl.col("batch_group") >= 0).with_columns(batch="batch_group")
    bt = bt.filter(pl.len().over("batch") >= 2)
    batch = bt.group_by("batch").agg(
        payment_id=pl.col("payment_id").str.join(","),
        cents=pl.col("amount_cents").sum(),
        currency=pl.col("currency").first(),
        booked=pl.col("booked").max(),
        fate=pl.col("fate").first(),
        refs=pl.col("reference").str.join(" "),
        counterparty=pl.col("payer").first(),
    ).select(
        "payment_id", "cents", "currency", "booked",
        reference=pl.lit(""),
        description=pl.when(pl.col("fate") == "batch_listed").then(pl.concat_str([pl.lit("Invoices"), "refs"],
                                                                                 separator=" "))
        .otherwise(pl.lit("COLLECTIVE PAYMENT")),
        counterparty="counterparty",
    )
    cols = ["payment_id", "cents", "currency", "booked", "reference", "description", "counterparty"]
    return pl.concat([one.select(cols), split.select(cols), batch.select(cols)], how="vertical_relaxed")


def save(out: Path, **frames: pl.DataFrame) -> dict[str, Path]:
    """Each frame as `out/<name>.csv` (the benchmark reads transactions, payments, truth and, if any, rates)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.csv" for name in frames}
    for name, frame in frames.items():
        frame.write_csv(paths[name])
    return paths


def load_store(ws: object, n: int, seed: int = 7) -> tuple[int, int]:
    """Initialise the store of workspace `ws` with `generate(n)`'s deposits and payments, nothing reconciled yet
    (store-mode benchmarks and the store-sharing tests). Returns (deposits, payments)."""
    from reconwb import accounts, banks, connections
    from reconwb.cli.admin import init_workspace
    from reconwb.payments import import_file
    from reconwb.transactions import ingest

    init_workspace(ws, simulated_banks=True)
    txns, payments, _truth = generate(n, seed)
    csv = ws.db_path.with_name(ws.db_path.name + ".payments.csv")
    payments.write_csv(csv)
    try:
        with ws.connect() as con:
            import_file(con, csv)
            banks.ensure_statement_bank(con)
            conn = connections.add(con, "bench", banks.STATEMENT_BANK)
            account = accounts.ensure(con, conn.connection_id, "ACC-1")
            ingest(con, account, txns.select(
                "booked_on", "currency", "description", "reference", "counterparty",
                amount=pl.col("amount").cast(pl.Decimal(18, 2)), bank_txn_id="txn_id",
            ), source="statement")
    finally:
        csv.unlink(missing_ok=True)
    return txns.height, payments.height


def write(n: int, out: Path, seed: int = 7) -> dict[str, Path]:
    txns, payments, truth = generate(n, seed)
    return save(out, transactions=txns, payments=payments, truth=truth)


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("data/bench")
    print(write(size, target))
