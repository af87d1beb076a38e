"""A second, independent generator of labelled matching data, written from the issue's list of cases.

It shares no code, names or formats with `synth.py`, so tuning the engine to one cannot pass for quality on the
other. Each paid invoice gets one kind (the per-kind recall the benchmark prints):

- `ref_exact`: the reference field holds the invoice number, in the payer's own spelling (spaces, lower case);
- `ref_text`: the number sits in free text ("Rechnung RE-2026-004512 vom 03.05");
- `ref_typo`: the number has one edit (a substituted or dropped digit, two swapped digits); payer and amount agree;
- `fee_ref` / `fee_noref`: a card or wire fee was withheld, with or without the number;
- `no_ref`: no number at all, only the payer's name as the bank shows it and the exact amount;
- `early` / `late`: no number, booked before the invoice was issued (pre-payment) or weeks after it was due;
- `iban_only`: no name and no number, the payer's IBAN only;
- `alias`: the money comes from a trade name or parent company, quoting the number;
- `fx`: the invoice is in one currency, the deposit in another at the day's rate (plus a bank spread);
- `recurring`: a subscriber with the same amount every month, paid by standing order without a number;
- `split`, `batch`: two or three deposits for one invoice; one deposit listing two or three numbers.

Names as banks show them: upper case, legal forms dropped or spelt otherwise (B.V., BV; Limited, Ltd), words
reordered, common abbreviations (Intl, Mfg, Bros, &), truncated to 18 characters. Noise: deposits from
strangers, refunds from real payers, and duplicate payments of an already paid invoice.

    python bench/field_synth.py N OUTDIR   # transactions.csv, payments.csv, truth.csv (with kind), rates.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
from synth import save

KINDS = {  # share of invoices
    "ref_exact": 0.17, "ref_text": 0.10, "ref_typo": 0.06, "fee_ref": 0.04, "fee_noref": 0.05, "no_ref": 0.12,
    "early": 0.04, "late": 0.04, "iban_only": 0.03, "alias": 0.03, "fx": 0.04, "recurring": 0.04, "split": 0.03,
    "batch": 0.03, "unpaid": 0.18,
}
FIRST = ["Tyrell", "Oscorp", "Vandelay", "Initech", "Globex", "Hooli", "Cyberdyne", "Soylent", "Wonka", "Stark",
         "Wayne", "Gekko", "Duff", "Krusty", "Nakatomi", "Weyland", "Zorg", "Ollivander", "Sirius", "Bluth"]
SECOND = ["Umbrella", "Dunder", "Acme Stores", "Trading", "International Foods", "Manufacturing", "Brothers",
          "Systems", "Holdings", "and Sons", "Logistics", "Industries", "Partners", "Consulting", "Media Group"]
FORMS = ["GmbH", "Ltd", "LLC", "S.A.", "BV", "Inc.", "PLC", "S.r.l.", "Oy", "AB", "Pty Ltd", "SAS", "N.V.",
         "GmbH & Co. KG", "Limited", ""]
OTHER_FORM = {"Ltd": "Limited", "Limited": "Ltd", "BV": "B.V.", "S.A.": "SA", "Inc.": "Incorporated",
              "N.V.": "NV", "S.r.l.": "SRL", "GmbH & Co. KG": "GmbH & Co KG", "PLC": "Public Limited Company"}
ABBREVIATE = {"International": "Intl", "Manufacturing": "Mfg", "Brothers": "Bros", "and": "&",
              "Holdings": "Hldgs", "Logistics": "Logistic", "Consulting": "Consult"}
COMMON_CENTS = np.array([1999, 4900, 9900, 14900, 25000])
RATES = {("EUR", "USD"): 1.0850, ("EUR", "GBP"): 0.8520}  # published against EUR only, as the ECB does
BASE = np.datetime64("2026-01-01")


def _money(cents: pl.Expr) -> pl.Expr:
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))


def _legal_name(i: int, rng: np.random.Generator) -> str:
    words = [FIRST[i % len(FIRST)], SECOND[(i // len(FIRST)) % len(SECOND)]]
    number = f" {1000 + i}" if rng.random() < 0.7 else f" {chr(65 + i % 26)}{i}"
    form = FORMS[rng.integers(0, len(FORMS))]
    return f"{' '.join(words)}{number}" + (f" {form}" if form else "")


def _as_bank_shows(name: str, rng: np.random.Generator) -> str:
    """How a bank statement prints a name: one or two of the distortions real statements have."""
    u = rng.random()
    out = name
    if u < 0.15:
        pass
    elif u < 0.35:
        out = name.upper()
    elif u < 0.50:  # legal form dropped
        for form in sorted(FORMS, key=len, reverse=True):
            if form and out.endswith(" " + form):
                out = out[: -len(form) - 1]
                break
        out = out.upper()
    elif u < 0.60:  # legal form spelt otherwise
        for form, other in OTHER_FORM.items():
            if out.endswith(" " + form):
                out = out[: -len(form)] + other
                break
    elif u < 0.72:  # abbreviations
        out = " ".join(ABBREVIATE.get(w, w) for w in out.split(" "))
    elif u < 0.82:  # words reordered: "ACME STORES, VANDELAY 1994"
        words = out.split(" ")
        out = " ".join(words[1:2] + words[:1] + words[2:]).upper()
    elif u < 0.92:  # truncated
        out = out.upper()[:18].rstrip()
    else:  # punctuation
        out = out.replace(" ", ", ", 1).replace(".", "")
    return out


def _ref_formats(numbers: np.ndarray, year: np.ndarray, style: np.ndarray) -> list[str]:
    out = []
    for n, y, s in zip(numbers.tolist(), year.tolist(), style.tolist(), strict=True):
        if s == 0:
            out.append(f"RE-{y}-{n:06d}")
        elif s == 1:
            out.append(f"SO{n:07d}")
        else:
            out.append(f"{y}/{n:05d}-K")
    return out


def _spell(ref: str, rng: np.random.Generator) -> str:
    """How a payer types a number they copied: as printed, spaced, lower case, separators dropped."""
    u = rng.random()
    if u < 0.5:
        return ref
    if u < 0.7:
        return ref.replace("-", " ").replace("/", " ")
    if u < 0.85:
        return ref.lower()
    return ref.replace("-", "").replace("/", "")


def _typo(ref: str, rng: np.random.Generator) -> str:
    digits = [i for i, c in enumerate(ref) if c.isdigit()]
    pos = digits[int(rng.integers(len(digits) // 2, len(digits)))]
    kind = rng.integers(0, 3)
    if kind == 0:  # substitution
        return ref[:pos] + str((int(ref[pos]) + 1 + int(rng.integers(0, 8))) % 10) + ref[pos + 1:]
    if kind == 1 and pos + 1 < len(ref) and ref[pos + 1].isdigit() and ref[pos + 1] != ref[pos]:  # transposition
        return ref[:pos] + ref[pos + 1] + ref[pos] + ref[pos + 2:]
    return ref[:pos] + ref[pos + 1:]  # a dropped digit


def generate(n: int, seed: int = 20260) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(transactions, payments, truth with `kind`, rates) for about `n` invoices and about `n` transactions."""
    rng = np.random.default_rng(seed)
    n_payers = max(n // 5, 20)
    legal = [_legal_name(i, rng) for i in range(n_payers)]
    ibans = [f"DE{(i * 7919) % 97:02d}5001{i:014d}" if rng.random() < 0.6 else "" for i in range(n_payers)]
    kind = rng.choice(list(KINDS), n, p=np.array(list(KINDS.values())) / sum(KINDS.values()))
    payer = rng.integers(0, n_payers, n)
    common = rng.random(n) < 0.3
    cents = np.where(common, COMMON_CENTS[rng.integers(0, len(COMMON_CENTS), n)],
                     np.round(np.exp(rng.normal(9.5, 1.4, n))).astype(np.int64) + 300)
    issued = rng.integers(0, 330, n)
    terms = rng.choice([14, 30, 45, 60], n)
    currency = rng.choice(["EUR", "USD", "GBP"], n, p=[0.7, 0.2, 0.1])
    # recurring: runs of three monthly invoices of one payer, same amount
    rec = np.flatnonzero(kind == "recurring")
    head = rec[(np.arange(len(rec)) % 3) == 0]
    for k, i in enumerate(rec):
        h = head[np.searchsorted(head, i, side="right") - 1]
        payer[i], cents[i], currency[i], terms[i] = payer[h], cents[h], currency[h], 30
        issued[i] = min(issued[h], 240) + 30 * (k % 3)
    numbers = rng.choice(max(900_000, 2 * n), n, replace=False) + 10_000
    refs = _ref_formats(numbers, 2025 + (issued > 180), rng.integers(0, 3, n))
    # batch: consecutive batch invoices of one payer, in groups of 2-3, one currency
    bat = np.flatnonzero(kind == "batch")
    bgroup = np.full(n, -1)
    if len(bat):
        sizes = rng.integers(2, 4, len(bat))
        groups = np.repeat(np.arange(len(bat)), sizes)[: len(bat)]
        first = bat[np.searchsorted(groups, groups)]
        payer[bat], currency[bat] = payer[first], currency[first]
        issued[bat] = issued[first] + rng.integers(0, 5, len(bat))
        bgroup[bat] = groups
    payments = pl.DataFrame({
        "payment_id": [f"INV{i:07d}" for i in range(n)], "cents": cents, "currency": currency,
        "issued": issued, "due": issued + terms, "reference": refs,
        "payer": [legal[i] for i in payer], "payer_iban": [ibans[i] for i in payer], "kind": kind,
    })
    txns, truth = _deposits(payments, payer, legal, ibans, bgroup, rng)
    noise = _noise(payments, legal, ibans, payer, max(n - txns.height, n // 10), rng)
    all_txns = pl.concat([txns, noise], how="vertical_relaxed")
    order = rng.permutation(all_txns.height)
    all_txns = all_txns[order].with_row_index("row").with_columns(txn_id=pl.format("B{}", pl.col("row") + 100))
    truth = truth.join(all_txns.select("key", "txn_id"), on="key").select("txn_id", "payment_id", "kind")
    out_txns = all_txns.select(
        "txn_id", account_id=pl.lit("DE-OPS-01"),
        booked_on=pl.lit(BASE) + pl.duration(days=pl.col("booked")), amount=_money(pl.col("cents")),
        currency="currency", description="description", reference="reference", counterparty="counterparty",
        counterparty_iban="counterparty_iban",
    )
    out_payments = payments.select(
        "payment_id", amount=_money(pl.col("cents")), currency="currency",
        issued_on=pl.lit(BASE) + pl.duration(days=pl.col("issued")),
        due_on=pl.lit(BASE) + pl.duration(days=pl.col("due")), reference="reference", payer="payer",
        payer_iban="payer_iban",
    )
    days = pl.date_range(pl.date(2025, 12, 1), pl.date(2027, 3, 31), eager=True)
    rates = pl.concat([
        pl.DataFrame({"date": days, "base": base, "quote": quote,
                      "rate": [f"{rate * (1 + 0.01 * np.sin(d / 29)):.6f}" for d in range(len(days))]})
        for (base, quote), rate in RATES.items()
    ])
    return out_txns, out_payments, truth, rates


def rate_on(base: str, quote: str, day: int) -> float:
    """The rate of `day` (days since 2025-12-01): as published, or its inverse."""
    if (base, quote) in RATES:
        return float(f"{RATES[(base, quote)] * (1 + 0.01 * np.sin(day / 29)):.6f}")
    return 1 / rate_on(quote, base, day)


def _deposits(payments: pl.DataFrame, payer: np.ndarray, legal: list[str], ibans: list[str], bgroup: np.ndarray,
              rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows: list[dict] = []
    truth: list[tuple[int, str, str]] = []
    batches: dict[int, list[int]] = {}
    for i, r in enumerate(payments.iter_rows(named=True)):
        kind = r["kind"]
        if kind == "unpaid":
            continue
        if kind == "batch":
            batches.setdefault(int(bgroup[i]), []).append(i)
            continue
        shown = _as_bank_shows(r["payer"], rng)
        iban = r["payer_iban"] if rng.random() < 0.5 else ""
        lag = int(rng.integers(0, r["due"] - r["issued"] + 8))  # most pay between issue and a week late
        if kind == "recurring":  # a standing order: the same day of each month, give or take a weekend
            lag = int(payer[i] % 20) + int(rng.integers(0, 3))
        ref, text, amount, cur = "", "CREDIT TRANSFER", r["cents"], r["currency"]
        if kind == "ref_exact":
            ref = _spell(r["reference"], rng)
        elif kind == "ref_text":
            text = f"{['Rechnung', 'Invoice no.', 'Facture', 'Pmt for'][i % 4]} {_spell(r['reference'], rng)} " \
                   f"{['vom 03.05', 'thanks', 'ref ' + str(i % 97), ''][i % 4]}".strip()
        elif kind == "ref_typo":
            ref = _typo(r["reference"], rng)
        elif kind == "fee_ref" or kind == "fee_noref":
            fee = (amount * 2900 + 50_000) // 100_000 + 30 if rng.random() < 0.7 else 1500
            if fee >= amount:
                fee = 0
            amount -= fee
            text = "CARD SETTLEMENT" if fee != 1500 else "SWIFT TRANSFER LESS CHARGES"
            ref = r["reference"] if kind == "fee_ref" else ""
        elif kind == "early":
            lag = -int(rng.integers(1, 6))
        elif kind == "late":
            lag = r["due"] - r["issued"] + int(rng.integers(10, 40))
        elif kind == "iban_only":
            shown, iban = "", r["payer_iban"]
            if not iban:
                ref = r["reference"]  # a payer without an IBAN on file quotes the number
        elif kind == "alias":
            shown = f"{FIRST[(payer[i] + 7) % len(FIRST)].upper()} PAYMENTS SERVICES {payer[i] % 89}"
            text = f"on behalf of {r['payer'][:12]} {r['reference']}"
            iban = ""
        elif kind == "fx":
            quote = {"EUR": "USD", "USD": "EUR", "GBP": "EUR"}[r["currency"]]
            day = int(r["issued"]) + lag + 31  # days since 2025-12-01
            rate = rate_on(r["currency"], quote, day)
            amount = int(round(r["cents"] * rate * (1 - 0.004)))  # the bank keeps a 0.4 % spread
            cur = quote
            ref = r["reference"] if rng.random() < 0.6 else ""
        if kind == "split":
            parts = int(rng.integers(2, 4))
            share = r["cents"] // parts
            for k in range(parts):
                value = share if k < parts - 1 else r["cents"] - share * (parts - 1)
                rows.append(_row(len(rows), r["issued"] + lag + 9 * k, value, cur, r["reference"],
                                 f"instalment {k + 1}", shown, iban))
                truth.append((len(rows) - 1, r["payment_id"], kind))
            continue
        rows.append(_row(len(rows), r["issued"] + lag, amount, cur, ref, text, shown, iban))
        truth.append((len(rows) - 1, r["payment_id"], kind))
    for members in batches.values():
        if len(members) < 2:
            kind_one = payments.row(members[0], named=True)
            rows.append(_row(len(rows), kind_one["issued"] + 5, kind_one["cents"], kind_one["currency"],
                             kind_one["reference"], "", kind_one["payer"], ""))
            truth.append((len(rows) - 1, kind_one["payment_id"], "batch"))
            continue
        rs = [payments.row(m, named=True) for m in members]
        listed = " ".join(_spell(r["reference"], rng) for r in rs)
        rows.append(_row(len(rows), max(r["issued"] for r in rs) + int(rng.integers(3, 20)),
                         sum(r["cents"] for r in rs), rs[0]["currency"], "", f"Invoices {listed}",
                         _as_bank_shows(rs[0]["payer"], rng), ""))
        truth += [(len(rows) - 1, r["payment_id"], "batch") for r in rs]
    frame = pl.DataFrame(rows, schema=_SCHEMA, orient="row")
    return frame, pl.DataFrame(truth, schema={"key": pl.Int64, "payment_id": pl.String, "kind": pl.String},
                               orient="row")


_SCHEMA = {"key": pl.Int64, "booked": pl.Int64, "cents": pl.Int64, "currency": pl.String, "reference": pl.String,
           "description": pl.String, "counterparty": pl.String, "counterparty_iban": pl.String}


def _row(key: int, booked: int, cents: int, currency: str, reference: str, description: str, counterparty: str,
         iban: str) -> tuple:
    return (key, int(booked), int(cents), currency, reference, description, counterparty, iban)


def _noise(payments: pl.DataFrame, legal: list[str], ibans: list[str], payer: np.ndarray, count: int,
           rng: np.random.Generator) -> pl.DataFrame:
    """Deposits no invoice explains: strangers, refunds from real payers, and second payments of a paid invoice."""
    rows = []
    paid = payments.filter(pl.col("kind").is_in(["ref_exact", "no_ref"]))
    for k in range(count):
        u = rng.random()
        key = 10_000_000 + k
        if u < 0.85:
            rows.append(_row(key, int(rng.integers(0, 420)), int(np.exp(rng.normal(8.5, 1.6))) + 50,
                             str(rng.choice(["EUR", "USD", "GBP"])), "",
                             ["INTEREST", "REFUND", "POS RETURN", "TRANSFER"][k % 4],
                             f"{['MR', 'MS', 'DR'][k % 3]} {FIRST[k % 20].upper()} {k % 9973}", ""))
        elif u < 0.99 or paid.is_empty():  # a real payer, an amount that is none of its invoices
            i = int(rng.integers(0, len(legal)))
            rows.append(_row(key, int(rng.integers(0, 420)), int(np.exp(rng.normal(7, 1))) + 7, "EUR", "",
                             "REFUND", legal[i].upper(), ""))
        else:  # paid twice: the same amount again, a month after the first, without a number
            r = paid.row(int(rng.integers(0, paid.height)), named=True)
            rows.append(_row(key, r["due"] + 40, r["cents"], r["currency"], "", "CREDIT TRANSFER",
                             r["payer"].upper(), ""))
    return pl.DataFrame(rows, schema=_SCHEMA, orient="row")


def write(n: int, out: Path, seed: int = 20260) -> dict[str, Path]:
    txns, payments, truth, rates = generate(n, seed)
    return save(out, transactions=txns, payments=payments, truth=truth, rates=rates)


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(write(size, Path(sys.argv[2]) if len(sys.argv) > 2 else Path("data/bench-field")))
