"""Candidate generation: which (transaction, payment) pairs are worth scoring at all.

Comparing every deposit with every invoice is quadratic, so candidates come from equality joins on blocking
keys, each always including the currency:

- references: a token of the deposit's reference or description equals an invoice's normalised reference;
- payer and amount: same payer (name key or IBAN) and an amount the invoice could arrive as (exact, or less one
  of the fee schedules the rules know);
- a payer word and amount: one significant word of the names in common and such an amount, where that word and
  amount are not common (a name the bank cut short or spelt otherwise still shares its rare words);
- rare amounts: the same expected amount, where that amount is rare on both sides (a common amount such as
  49.00 says nothing by itself, and joining on it would explode).

Everything here is vectorised polars; the only Python loop-free fuzzy step uses rapidfuzz's batch `cpdist`.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import OSA

from reconwb.matching import payers
from reconwb.matching import rates as fx_rates
from reconwb.matching.frames import beside
from reconwb.matching.rules import Rules

REF_KINDS = {"exact": 3, "extracted": 2, "fuzzy": 1, "none": 0}


def tokens_of(txns: pl.DataFrame) -> pl.DataFrame:
    """(t, currency, ref_norm, tok): one row per candidate reference token of each deposit, read once for every
    blocking step that compares tokens."""
    return txns.select("t", "currency", "ref_norm", tok="tokens").explode("tok").drop_nulls("tok")


def reference_pairs(txns: pl.DataFrame, payments: pl.DataFrame, tokens: pl.DataFrame | None = None) -> pl.DataFrame:
    """Pairs whose reference matches exactly after normalisation (`exact`) or as a token of the text (`extracted`).

    Whole tokens are compared, so a short invoice reference never matches inside a longer one.
    """
    tokens = tokens_of(txns) if tokens is None else tokens
    refs = payments.filter(pl.col("ref_norm").str.len_chars() >= 3).select("p", "currency", tok="ref_norm")
    pairs = tokens.join(refs, on=["currency", "tok"], how="inner")
    return pairs.select(
        "t", "p", ref_level=pl.when(pl.col("ref_norm") == pl.col("tok")).then(3).otherwise(2).cast(pl.Int8),
        ref_token=pl.col("tok"),
    ).sort("ref_level", descending=True).unique(["t", "p"], keep="first")


def arrival_amounts(rules: Rules) -> list[pl.Expr]:
    """The amounts a payment could arrive as, one expression each: its open amount, and the open amount less each
    fee (null where a fee leaves an amount already listed)."""
    cents = pl.col("cents")
    amounts = [cents]
    for fee in rules.fees:
        less = cents - fee.fee_cents(cents)
        amounts.append(pl.when(pl.any_horizontal([less == earlier for earlier in amounts])).then(None)
                       .otherwise(less))
    return amounts


def amount_keys(payments: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """One row per amount a payment could arrive as (`arrival_amounts`, positive ones), in no particular order:
    every consumer joins on it.

    Built as one frame per amount, stacked: at a million invoices (three million keys) that is a quarter of the
    time of a list per payment made unique and exploded, which copies the payment's text columns once per
    element on the way (and sorting the stack into payment order cost as much again, for nobody)."""
    return pl.concat([payments.select("p", "currency", "payer_key", "iban", key=amount)
                      for amount in arrival_amounts(rules)]).filter(pl.col("key") > 0)


SINCE_ISSUE = (pl.col("booked_on") - pl.col("opens")).dt.total_days()
SINCE_DUE = (pl.col("booked_on") - pl.col("anchor")).dt.total_days()
WORD_BLOCK_MAX = 30  # a (currency, amount, payer word) shared by more rows than this on a side blocks nothing


def _windowed(pairs: pl.DataFrame, txns: pl.DataFrame, payments: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    dated = beside(beside(pairs, txns, "t", booked_on="booked_on"), payments, "p", opens="opens", anchor="anchor")
    return dated.filter(rules.in_any_window(SINCE_ISSUE, SINCE_DUE)).select("t", "p")


def _words(frame: pl.DataFrame, side: str) -> pl.DataFrame:
    """(side, word) for every significant payer word of three characters or more."""
    return frame.filter(pl.col("payer_key") != "").select(side, word=pl.col("payer_words").str.split(" ")).explode(
        "word").filter(pl.col("word").str.len_chars() >= 3).unique()


def word_pairs(txns: pl.DataFrame, payments: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """Pairs sharing an expected amount and a payer word, where that (amount, word) is not common on either side.

    Only deposits whose name key is no invoice's take part (the others are found by key): the names a bank cut
    short or spelt otherwise. The invoices' words are read once per distinct name and narrowed to the deposits'
    (amount, word) before they are counted: at a million invoices most amounts are shared, few words are.
    """
    unknown = txns.filter(pl.col("payer_key") != "").join(payments.select("payer_key").unique(), on="payer_key",
                                                          how="anti")
    t = _words(unknown, "t").join(unknown.select("t", "currency", key="cents"), on="t")
    t = t.filter(pl.len().over("currency", "key", "word") <= WORD_BLOCK_MAX)
    if t.is_empty():
        return pl.DataFrame(schema={"t": pl.UInt32, "p": pl.UInt32})
    # words as numbers from here on: the invoices' side is millions of rows at a million invoices
    words = t.select("word").unique().with_row_index("w")
    t = t.join(words, on="word").drop("word")
    wanted = t.select("currency", "key", "w").unique()
    named = payments.filter(pl.col("payer_key") != "")
    name_words = _words(named.select("payer_words", "payer_key").unique("payer_words"), "payer_words").join(
        words, on="word").select("payer_words", "w")
    amounts = keys.select("p", "currency", "key").join(wanted.select("currency", "key").unique(),
                                                       on=["currency", "key"], how="semi")
    p = named.select("p", "payer_words").join(amounts.select("p").unique(), on="p", how="semi").join(
        name_words, on="payer_words").select("p", "w").join(amounts, on="p").join(
        wanted, on=["currency", "key", "w"], how="semi")
    p = p.filter(pl.len().over("currency", "key", "w") <= WORD_BLOCK_MAX)
    return t.join(p, on=["currency", "key", "w"]).select("t", "p").unique()


def amount_pairs(txns: pl.DataFrame, payments: pl.DataFrame, rules: Rules,
                 keys: pl.DataFrame | None = None, aliased: pl.DataFrame | None = None) -> pl.DataFrame:
    """Pairs sharing payer (name key, a rare payer word, IBAN, or a learned alias: `aliased` holds (t,
    payer_key) it stands for) and expected amount, plus pairs sharing a rare expected amount."""
    keys = amount_keys(payments, rules) if keys is None else keys
    t = txns.select("t", "currency", "payer_key", "iban", key="cents")
    if aliased is not None and not aliased.is_empty():
        t = pl.concat([t, aliased.join(t.drop("payer_key"), on="t").select(t.columns)])
    by_payer = t.filter(pl.col("payer_key") != "").join(
        keys.filter(pl.col("payer_key") != "").select("p", "currency", "payer_key", "key"),
        on=["currency", "payer_key", "key"],
    )
    by_iban = t.filter(pl.col("iban") != "").join(
        keys.filter(pl.col("iban") != "").select("p", "currency", "iban", "key"), on=["currency", "iban", "key"]
    )
    limit = rules.rare_amount_max
    rare_keys = keys.filter(pl.len().over("currency", "key") <= limit)
    rare_txns = t.filter(pl.len().over("currency", "key") <= limit)
    by_amount = rare_txns.select("t", "currency", "key").join(
        rare_keys.select("p", "currency", "key"), on=["currency", "key"]
    )
    pairs = pl.concat([by_payer.select("t", "p"), by_iban.select("t", "p"), by_amount.select("t", "p"),
                       word_pairs(txns, payments, keys)]).unique()
    return _windowed(pairs, txns, payments, rules)


_HASH_BASE = 0x9E3779B97F4A7C15  # odd: invertible modulo 2^64


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit (uint64 arithmetic wraps)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _deletions(frame: pl.DataFrame, column: str, side: str, currencies: dict[str, int]) -> pl.DataFrame:
    """(`side`, `h`): a 64-bit hash of the currency with `column`, and with every string one character shorter
    than it (the deletion neighbourhood).

    The text is ASCII (`frames.norm_ref` keeps A-Z and 0-9), so it is read as a fixed-width byte matrix and
    hashed as a polynomial whose prefix sums give every deletion in a few array operations: at a million
    invoices the neighbourhood is eight million strings, which building and hashing as polars strings took a
    second of CPU to do."""
    if frame.is_empty():
        return pl.DataFrame(schema={side: pl.UInt32, "h": pl.UInt64})
    text = frame[column]
    n = text.str.len_bytes().to_numpy().astype(np.int64)
    width = int(n.max())
    matrix = np.frombuffer(text.str.pad_end(width, "\x00").str.join("").item().encode("ascii"),
                           dtype=np.uint8).reshape(-1, width).astype(np.uint64)
    powers = np.array([pow(_HASH_BASE, i, 1 << 64) for i in range(width)], dtype=np.uint64)
    prefix = np.zeros((len(n), width + 1), dtype=np.uint64)
    np.cumsum(matrix * powers, axis=1, out=prefix[:, 1:])  # prefix[:, k]: the first k characters' terms
    whole = prefix[:, width]
    inverse = np.uint64(pow(_HASH_BASE, -1, 1 << 64))
    code = frame["currency"].replace_strict(currencies, return_dtype=pl.UInt64).to_numpy() << np.uint64(8)
    ids = frame[side].to_numpy()
    sides, hashes = [ids], [_mix(whole ^ _mix(code + n.astype(np.uint64)))]
    shorter = _mix(code + (n - 1).astype(np.uint64))
    for pos in range(width):
        rows = np.flatnonzero(n > pos)
        deleted = prefix[rows, pos] + (whole[rows] - prefix[rows, pos + 1]) * inverse
        sides.append(ids[rows])
        hashes.append(_mix(deleted ^ shorter[rows]))
    return pl.DataFrame({side: np.concatenate(sides), "h": np.concatenate(hashes)})


def typo_pairs(txns: pl.DataFrame, payments: pl.DataFrame, hit: pl.DataFrame, hit_p: pl.DataFrame,
               rules: Rules, tokens: pl.DataFrame | None = None, fit: bool = False) -> pl.DataFrame:
    """Pairs whose token and reference are one edit apart, found through shared deletion variants; with `fit`,
    only those whose deposit amount is one the invoice could arrive as (`arrival_amounts`).

    Two strings within one insertion, deletion or substitution share a string of their deletion neighbourhoods,
    so an equality join finds them without comparing everything with everything. Only transactions and payments
    without a confirmed hit (a reference found and an amount that fits it) take part: a typo can turn one
    invoice number into another's, and that other invoice's amount then does not fit. The join's rows (millions
    at a million invoices, most of them several rows of one pair) are checked and made unique as arrays.
    """
    empty = pl.DataFrame(schema={"t": pl.UInt32, "p": pl.UInt32})
    if rules.fuzzy_max_distance < 1:
        return empty
    tokens = (
        (tokens_of(txns) if tokens is None else tokens).join(hit, on="t", how="anti").select("t", "currency", "tok")
        .filter(pl.col("tok").str.len_chars() >= rules.fuzzy_min_length - 1).unique()
    )
    if tokens.is_empty():
        return empty
    refs = payments.join(hit_p, on="p", how="anti").filter(
        pl.col("ref_norm").str.len_chars() >= rules.fuzzy_min_length).select("p", "currency", "ref_norm")
    currencies = {c: i for i, c in enumerate(pl.concat([tokens["currency"], refs["currency"]]).unique().sort())}
    # equal hashes of unequal strings (one in 2^64) only add a candidate; `fuzzy_references` measures the distance
    joined = _deletions(tokens, "tok", "t", currencies).join(_deletions(refs, "ref_norm", "p", currencies), on="h")
    t, p = joined["t"].to_numpy(), joined["p"].to_numpy()
    if fit:
        cents = np.zeros(int(txns["t"].max()) + 1, dtype=np.int64)
        cents[txns["t"].to_numpy()] = txns["cents"].fill_null(0).to_numpy()
        arrivals = payments.select("p", *(a.alias(f"a{i}") for i, a in enumerate(arrival_amounts(rules))))
        paid = cents[t]
        ok = np.zeros(len(t), dtype=bool)
        for column in arrivals.columns[1:]:
            amounts = np.zeros(int(arrivals["p"].max()) + 1, dtype=np.int64)
            amounts[arrivals["p"].to_numpy()] = arrivals[column].fill_null(0).to_numpy()
            ok |= (amounts[p] == paid) & (paid > 0)
        t, p = t[ok], p[ok]
    pairs = np.unique((t.astype(np.uint64) << np.uint64(32)) | p.astype(np.uint64))
    return pl.DataFrame({"t": (pairs >> np.uint64(32)).astype(np.uint32),
                         "p": (pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32)})


def _fuzzy_needs_fit(rules: Rules) -> bool:
    """Whether a pair found only by a one-edit reference can meet a rule without its amount being one the invoice
    could arrive as (`amount_keys`): not when every rule such a pair could meet (no reference condition, or a
    fuzzy one) wants the exact amount or a known fee. Then typo pairs that do not fit are not worth scoring: at a
    million invoices with six-digit numbers, nearly every reference is one edit from several others."""
    reach = [r for r in rules.rules if r.reference in (None, "fuzzy")]
    return all(not r.amount.has_tolerance for r in reach)  # an `fx` rule takes only pairs across currencies


def fx_pairs(txns: pl.DataFrame, payments: pl.DataFrame, fx: pl.DataFrame, rules: Rules,
             tokens: pl.DataFrame | None = None) -> pl.DataFrame:
    """Pairs across currencies: the deposit converted at the day's rate (`rates.convert`) is within the FX
    tolerance of the invoice, and the deposit quotes its reference or comes from its payer (name key or IBAN).
    With `ref_level`, `conv_cents` and `fx_rate_e8`."""
    empty = pl.DataFrame(schema={"t": pl.UInt32, "p": pl.UInt32, "ref_level": pl.Int8, "ref_token": pl.String,
                                 "conv_cents": pl.Int64, "fx_rate_e8": pl.Int64})
    if fx.is_empty():
        return empty
    fx = fx.join(payments.select("currency").unique(), on="currency", how="semi")  # currencies invoiced only
    if fx.is_empty():
        return empty
    # a deposit's tokens once (not once per currency it converts to), against every currency's references
    tokens = (tokens_of(txns) if tokens is None else tokens).join(fx.select("t").unique(), on="t", how="semi").select(
        "t", "ref_norm", "tok")  # the deposit's own currency is not the one it converts to
    refs = payments.filter(pl.col("ref_norm").str.len_chars() >= 3).select("p", "currency", tok="ref_norm")
    by_ref = tokens.join(refs, on="tok").join(fx.select("t", "currency"), on=["t", "currency"], how="semi").select(
        "t", "p", ref_level=pl.when(pl.col("ref_norm") == pl.col("tok")).then(3).otherwise(2).cast(pl.Int8),
        ref_token=pl.col("tok"))
    # same payer (name key or IBAN) in the invoice's currency, and only those the converted amount fits: at a
    # million deposits a payer's invoices in other currencies are millions of pairs, a few percent of them fit
    allowed = pl.col("p_cents") * rules.fx_tolerance_pct_milli // 100_000
    fits = (pl.col("p_cents") - pl.col("conv_cents")).abs() <= allowed
    conv = fx.select("t", "currency", "conv_cents").join(txns.select("t", "payer_key", "iban"), on="t")
    by_payer = conv.filter(pl.col("payer_key") != "").join(
        payments.filter(pl.col("payer_key") != "").select("p", "currency", "payer_key", p_cents="cents"),
        on=["currency", "payer_key"]).filter(fits)
    by_iban = conv.filter(pl.col("iban") != "").join(
        payments.filter(pl.col("iban") != "").select("p", "currency", "iban", p_cents="cents"),
        on=["currency", "iban"]).filter(fits)
    others = pl.concat([by_payer.select("t", "p"), by_iban.select("t", "p")]).unique().join(
        by_ref.select("t", "p"), on=["t", "p"], how="anti").with_columns(
        ref_level=pl.lit(0, dtype=pl.Int8), ref_token=pl.lit(None, dtype=pl.String))
    pairs = pl.concat([by_ref.sort("ref_level", descending=True).unique(["t", "p"], keep="first"), others])
    pairs = pairs.join(payments.select("p", "currency", p_cents="cents"), on="p").join(fx, on=["t", "currency"])
    pairs = pairs.filter(fits)
    kept = _windowed(pairs.select("t", "p"), txns, payments, rules)
    return pairs.join(kept, on=["t", "p"]).select("t", "p", "ref_level", "ref_token", "conv_cents", "fx_rate_e8")


def settled_by_reference(confirmed: pl.DataFrame) -> pl.DataFrame:
    """(t): deposits whose reference names exactly one invoice that their amount fits (as it is or less a known
    fee), that invoice being named so by no other deposit. Such a deposit is explained: the weaker evidence of
    the other blocking keys (payer and amount, a shared word, a rare amount, a one-edit reference, another
    currency) would only add rivals its reference outweighs, so they are not looked for. At a million deposits
    that is most of them, and most of the candidate work."""
    once = confirmed.select("t", "p").unique()
    return once.filter((pl.len().over("t") == 1) & (pl.len().over("p") == 1)).select("t")


def candidates(txns: pl.DataFrame, payments: pl.DataFrame, rules: Rules,
               rates: pl.DataFrame | None = None, aliased: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every candidate pair once, with its best reference level (3 exact, 2 extracted, 1 fuzzy, 0 none); pairs
    across currencies (at `rates`, see `fx_pairs`) carry `conv_cents` and `fx_rate_e8`, other pairs nulls.
    Deposits `settled_by_reference` get their reference pairs only (`settled` says so)."""
    tokens = tokens_of(txns)
    refs = reference_pairs(txns, payments, tokens)
    keys = amount_keys(payments, rules)
    confirmed = refs.join(txns.select("t", key="cents"), on="t").join(keys.select("p", "key"), on=["p", "key"])
    settled = settled_by_reference(confirmed)
    open_txns = txns.join(settled, on="t", how="anti")
    open_tokens = tokens.join(settled, on="t", how="anti")
    # most one-edit neighbours of a reference are other invoices: keep those that fit when only those can count
    typos = typo_pairs(open_txns, payments, confirmed.select("t").unique(), confirmed.select("p").unique(), rules,
                       open_tokens, fit=_fuzzy_needs_fit(rules))
    typos = _windowed(typos, txns, payments, rules)
    others = pl.concat([amount_pairs(open_txns, payments, rules, keys, aliased), typos]).unique().join(
        refs.select("t", "p"), on=["t", "p"], how="anti")
    others = others.with_columns(ref_level=pl.lit(0, dtype=pl.Int8), ref_token=pl.lit(None, dtype=pl.String))
    pairs = fuzzy_references(pl.concat([refs, others]), txns, payments, rules, confirmed.select("t").unique())
    pairs = pairs.with_columns(conv_cents=pl.lit(None, dtype=pl.Int64), fx_rate_e8=pl.lit(None, dtype=pl.Int64),
                               settled=pl.col("t").is_in(settled["t"].implode()))
    if rates is None or rates.is_empty():
        return pairs
    fx = fx_rates.convert(open_txns, rates, rules.fx_max_rate_age_days)
    across = fx_pairs(open_txns, payments, fx, rules, open_tokens).with_columns(
        ref_similarity=(pl.col("ref_level") > 0).cast(pl.Float64), settled=pl.lit(False))
    return pl.concat([pairs, across.select(pairs.columns)])


def fuzzy_references(pairs: pl.DataFrame, txns: pl.DataFrame, payments: pl.DataFrame, rules: Rules,
                     confirmed: pl.DataFrame | None = None) -> pl.DataFrame:
    """Raise `ref_level` to 1 where a token is within `fuzzy_max_distance` edits (insertions, deletions,
    substitutions, swaps of two neighbours) of the payment's reference.

    The guard: the reference must be at least `fuzzy_min_length` long and the token about as long as it (the
    length difference counts as edits), so "INV-12" is not found inside "INV-1234567" or "INV-12-REFUND-99".
    Only transactions without a `confirmed` hit (by default: without any exact or extracted hit) are examined.
    """
    hit = pairs.filter(pl.col("ref_level") > 0).select("t").unique() if confirmed is None else confirmed
    todo = pairs.filter(pl.col("ref_level") == 0).join(hit, on="t", how="anti")
    maxd, minlen = rules.fuzzy_max_distance, rules.fuzzy_min_length
    if todo.is_empty() or maxd <= 0:
        return pairs.with_columns(ref_similarity=(pl.col("ref_level") > 0).cast(pl.Float64))
    probe = (
        todo.select("t", "p")
        .join(txns.select("t", tok="tokens"), on="t")
        .join(payments.select("p", "ref_norm"), on="p")
        .filter(pl.col("ref_norm").str.len_chars() >= minlen)
        .explode("tok")
        .drop_nulls("tok")
        .filter((pl.col("tok").str.len_chars().cast(pl.Int64) - pl.col("ref_norm").str.len_chars()).abs() <= maxd)
    )
    if probe.is_empty():
        return pairs.with_columns(ref_similarity=(pl.col("ref_level") > 0).cast(pl.Float64))
    distance = process.cpdist(
        probe["tok"].to_list(), probe["ref_norm"].to_list(), scorer=OSA.distance, workers=-1
    )
    close = (
        probe.with_columns(d=pl.Series(distance, dtype=pl.Int64))
        .filter(pl.col("d") <= maxd)
        .sort("d")
        .group_by("t", "p")
        .agg(sim=(1 - pl.col("d") / pl.col("ref_norm").str.len_chars()).max(), near=pl.col("tok").first())
    )
    return (
        pairs.join(close, on=["t", "p"], how="left")
        .with_columns(
            ref_level=pl.when(pl.col("sim").is_not_null()).then(pl.lit(1, dtype=pl.Int8)).otherwise("ref_level"),
            ref_similarity=pl.when(pl.col("ref_level") > 0).then(1.0).otherwise(pl.col("sim").fill_null(0.0)),
            ref_token=pl.coalesce("ref_token", "near"),
        )
        .drop("sim", "near")
    )


def with_features(pairs: pl.DataFrame, txns: pl.DataFrame, payments: pl.DataFrame,
                  aliased: pl.DataFrame | None = None, rejected: pl.DataFrame | None = None) -> pl.DataFrame:
    """The per-field facts scoring needs: amount difference (and whether it is exact and unique on both sides),
    days since issue and since due, payer similarity (or its absence), account fit. A learned alias (`aliased`:
    t, payer_key, alias_name) makes the payer the same, with `alias_name` saying which; a rejected name pair
    (`rejected`: t_payer, p_payer keys) makes it not."""
    if "settled" not in pairs.columns:
        pairs = pairs.with_columns(settled=pl.lit(False))
    frame = beside(beside(pairs, txns, "t", account="account", booked_on="booked_on", t_cents="cents",
                          t_payer="payer_key", t_iban="iban"),
                   payments, "p", account_ref="account_ref", opens="opens", anchor="anchor", p_cents="cents",
                   p_payer="payer_key", p_iban="iban")
    frame = frame.with_columns(
        diff=pl.col("p_cents") - pl.col("conv_cents").fill_null(pl.col("t_cents")),
        since_issue=SINCE_ISSUE,
        delta=SINCE_DUE,
        iban_match=(pl.col("t_iban") != "") & (pl.col("t_iban") == pl.col("p_iban")),
        account_ok=(pl.col("account_ref") == "") | (pl.col("account_ref") == pl.col("account")),
        payer_exact=(pl.col("t_payer") != "") & (pl.col("t_payer") == pl.col("p_payer")),
        payer_absent=(pl.col("t_payer") == "") & (pl.col("t_iban") == ""),
    )
    exact = (pl.col("diff") == 0) & pl.col("conv_cents").is_null()
    # a deposit settled by its reference was not compared with the other invoices: its amount is called unique
    # only when no other deposit and no other open invoice in the currency has it at all
    alone = (pl.len().over("currency", "cents") == 1)
    lone_t = txns.filter(alone).select("t", lone_t=pl.lit(True))
    lone_p = payments.filter(alone).select("p", lone_p=pl.lit(True))
    frame = frame.join(lone_t, on="t", how="left").join(lone_p, on="p", how="left").with_columns(
        unique_amount=exact & pl.when(pl.col("settled")).then(
            pl.col("lone_t").fill_null(False) & pl.col("lone_p").fill_null(False))
        .otherwise((exact.sum().over("t") == 1) & (exact.sum().over("p") == 1))).drop("lone_t", "lone_p")
    # names that differ after normalisation: a batch fuzzy ratio on the (few) such pairs that have both names
    need = frame.with_row_index("_i").filter(
        ~pl.col("payer_exact") & (pl.col("t_payer") != "") & (pl.col("p_payer") != "")
    ).select("_i", "t", "p")
    need = beside(beside(need, txns, "t", t_name="counterparty", t_words="payer_words"), payments, "p",
                  p_name="payer", p_words="payer_words")
    similarity = pl.Series("payer_sim", [0.0] * frame.height, dtype=pl.Float64)
    if not need.is_empty():
        similarity = similarity.scatter(need["_i"], payers.similarity(need, "t_name", "p_name",
                                                                      ("t_words", "p_words")))
    frame = frame.with_columns(payer_sim=pl.when(pl.col("payer_exact")).then(1.0).otherwise(similarity))
    if aliased is not None and not aliased.is_empty():
        frame = frame.join(aliased.rename({"payer_key": "p_payer"}), on=["t", "p_payer"], how="left")
    else:
        frame = frame.with_columns(alias_name=pl.lit(None, dtype=pl.String))
    if rejected is not None and not rejected.is_empty():
        frame = frame.join(rejected.with_columns(turned_down=pl.lit(True)), on=["t_payer", "p_payer"], how="left")
    else:
        frame = frame.with_columns(turned_down=pl.lit(None, dtype=pl.Boolean))
    frame = frame.with_columns(
        payer_sim=pl.when(pl.col("alias_name").is_not_null()).then(1.0)
        .when(pl.col("turned_down").fill_null(False) & ~pl.col("payer_exact")).then(0.0)
        .otherwise(pl.col("payer_sim")),
    )
    return frame.drop("t_payer", "p_payer", "t_iban", "p_iban", "opens", "turned_down", "settled")
