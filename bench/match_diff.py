"""Compare the full match set of two checkouts of the engine on the same generated data: every link (auto-match
and suggestion) with its rule, band, confidence and explanation. A speed change must leave this identical (or
explain each difference as a gain).

    python bench/match_diff.py OTHER_ROOT [N] [--generator synth|field]

OTHER_ROOT is another checkout (e.g. `git archive main | tar -x -C /tmp/main`); this checkout is the second side.
Each side runs `pipeline.match` in its own process, importing the engine from its own root.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = ["txn_id", "payment_id", "kind", "rule", "band", "confidence", "cents", "fee_cents", "fx_cents",
           "explanation"]

_CHILD = """
import sys
from pathlib import Path
root, data, out = sys.argv[1:4]
sys.path.insert(0, root)
import polars as pl
from reconwb.matching import engine, rates as fx_rates, rules as rules_mod
from reconwb.payments import read_file
data = Path(data)
rates = data / "rates.csv"
result = engine.match(engine.read_transactions_csv(data / "transactions.csv"),
                      engine.payments_input(read_file(data / "payments.csv")), rules_mod.load(None),
                      rates=fx_rates.read_file(rates) if rates.exists() else None)
cols = [c for c in sys.argv[4].split(",") if c in result.links.columns]
result.links.select(cols).write_parquet(out)
"""


def _run(root: Path, data: Path, out: Path) -> None:
    subprocess.run([sys.executable, "-c", _CHILD, str(root), str(data), str(out), ",".join(COLUMNS)], check=True)


def main(other: Path, n: int, generator: str) -> int:
    import polars as pl

    sys.path[:0] = [str(HERE)]
    module = __import__({"synth": "synth", "field": "field_synth"}[generator])
    with tempfile.TemporaryDirectory(prefix="reconwb-diff-") as tmp:
        data = Path(tmp)
        module.write(n, data)
        _run(other, data, data / "a.parquet")
        _run(HERE.parent, data, data / "b.parquet")
        a, b = pl.read_parquet(data / "a.parquet"), pl.read_parquet(data / "b.parquet")
        truth = pl.read_csv(data / "truth.csv", infer_schema=False).select("txn_id", "payment_id").unique()
    for name, side in (("there", a), ("here", b)):
        auto = side.filter(pl.col("band") == "matched").select("txn_id", "payment_id").unique()
        right = auto.join(truth, on=["txn_id", "payment_id"]).height
        print(f"auto-matches {name}: {auto.height:,}, right {right:,}, precision {right / max(auto.height, 1):.4f},"
              f" recall {right / truth.height:.4f}")
    key = [c for c in COLUMNS if c in a.columns and c in b.columns]
    key = [c for c in key if c != "confidence"]
    a = a.with_columns(pl.col("confidence").round(4))
    b = b.with_columns(pl.col("confidence").round(4))
    only_a = a.join(b, on=[*key, "confidence"], how="anti", nulls_equal=True)
    only_b = b.join(a, on=[*key, "confidence"], how="anti", nulls_equal=True)
    print(f"{generator} {n:,}: {a.height:,} links in {other}, {b.height:,} here; "
          f"{only_a.height:,} only there, {only_b.height:,} only here")
    pair = ["txn_id", "payment_id"]
    both = only_a.join(only_b, on=pair, suffix="_here")
    changed = {c: both.filter(pl.col(c).ne_missing(pl.col(f"{c}_here"))).height
               for c in [*key, "confidence"] if c not in pair}
    print(f"pairs in both with another value: {both.height:,} ({changed}); pairs only there"
          f" {only_a.join(b, on=pair, how='anti').height:,}, only here {only_b.join(a, on=pair, how='anti').height:,}")
    with pl.Config(tbl_rows=20, tbl_width_chars=200, fmt_str_lengths=80):
        if only_a.height:
            print("only there:", only_a.sort("txn_id").head(20))
        if only_b.height:
            print("only here:", only_b.sort("txn_id").head(20))
    return 0 if only_a.is_empty() and only_b.is_empty() else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path)
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument("--generator", choices=["synth", "field"], default="synth")
    args = parser.parse_args()
    sys.exit(main(args.other, args.n, args.generator))
