"""Who paid: payer names as banks print them, compared the way an analyst reads them.

A bank shows "VANDELAY ACME STORES 1994" where the invoice says "Acme Stores Vandelay 1994 B.V.", or
"TYRELL UMBRELLA GM" (cut at 18 characters), or "Globex Intl Mfg" for "Globex International Manufacturing".
Names are therefore compared as sorted word lists after dropping case, punctuation and legal forms and expanding
common abbreviations (`payer_words`); what still differs is scored by a batch fuzzy ratio (`similarity`), with
two guards: numbers in both names must agree (customer numbers tell "ACME 1994" from "ACME 1995"), and a name
cut short by the bank counts as the name it starts.

Everything here is vectorised polars, except rapidfuzz's batch scorer, which runs in C over the few pairs whose
words differ.
"""

from __future__ import annotations

import polars as pl
from rapidfuzz import fuzz, process

# legal forms, after dots are dropped ("S.A." is "sa", "B.V." is "bv"); several words first
LEGAL_FORMS = (
    "public limited company", "gmbh and co kg", "pty ltd", "pte ltd", "sp z oo",
    "gmbh", "ltd", "limited", "inc", "incorporated", "llc", "llp", "lp", "ag", "sa", "sas", "sarl", "srl", "spa",
    "bv", "nv", "co", "corp", "corporation", "company", "plc", "kg", "kgaa", "ohg", "ug", "oy", "oyj", "ab", "as",
    "asa", "aps", "ltda", "kk", "sl", "sro", "ev",
)
ABBREVIATIONS = {
    "intl": "international", "int'l": "international", "mfg": "manufacturing", "bros": "brothers",
    "hldgs": "holdings", "hldg": "holdings", "svc": "services", "svcs": "services", "mgmt": "management",
    "assoc": "associates", "dept": "department", "dist": "distribution", "grp": "group", "ind": "industries",
    "inds": "industries", "tech": "technology", "sys": "systems", "natl": "national", "univ": "university",
}
STOP_WORDS = ("and", "the", "und", "et", "of")
# every word between its own two spaces (see `payer_words`), so a literal multi-pattern replace finds whole words;
# several-word forms come first and win where they start (as a regex alternation in this order would)
_DROP = {f" {form.replace(' ', '  ')} ": " " for form in (*LEGAL_FORMS, *STOP_WORDS)}
_EXPAND = {f" {short} ": f" {long} " for short, long in ABBREVIATIONS.items()}
CUT_MIN_CHARS = 16  # a name cut short by a bank's field width (18, 20, 35 ...) keeps at least this much
CUT_SIMILARITY = 0.95


def _plain(expr: pl.Expr) -> pl.Expr:
    """Lower case, "&" as "and", dots dropped (S.A. -> sa), other punctuation as spaces, spaces collapsed."""
    return (
        expr.fill_null("").str.to_lowercase().str.replace_all("&", " and ", literal=True)
        .str.replace_all(".", "", literal=True).str.replace_all(r"[^a-z0-9]+", " ").str.strip_chars()
    )


def payer_words(expr: pl.Expr) -> pl.Expr:
    """A name as its sorted significant words, space-separated: legal forms, stop words and case gone,
    abbreviations expanded ("Globex Intl Mfg GmbH" and "GLOBEX MANUFACTURING INTERNATIONAL" agree).

    Words are dropped and expanded by two literal multi-pattern replaces (Aho-Corasick) over the name with each
    word between its own two spaces, not by a word-boundary regex and a per-word lookup: at a million names
    that is a third of the time, with the same words."""
    spaced = pl.concat_str([pl.lit(" "), _plain(expr).str.replace_all(" ", "  ", literal=True), pl.lit(" ")])
    words = spaced.str.replace_many(_DROP, leftmost=True).str.replace_many(_EXPAND, leftmost=True)
    return words.str.split(" ").list.eval(pl.element().filter(pl.element() != "").sort()).list.join(" ")


def payer_key(expr: pl.Expr) -> pl.Expr:
    """The blocking key of a name: its `payer_words` without spaces ("" when there is no name)."""
    return payer_words(expr).str.replace_all(" ", "")


def payer_numbers(expr: pl.Expr) -> pl.Expr:
    """The numbers a name carries, sorted ("" when none): customer numbers that must agree."""
    return _numbers(_plain(expr))


def _numbers(plain: pl.Expr) -> pl.Expr:
    return plain.str.extract_all(r"\d+").list.sort().list.join(" ")


def payer_prefix(expr: pl.Expr) -> pl.Expr:
    """The name as printed, reduced to lower-case letters, digits and single spaces, for the truncation check."""
    return _plain(expr)


def similarity(frame: pl.DataFrame, left: str, right: str, words: tuple[str, str] | None = None) -> pl.Series:
    """Payer similarity in [0, 1] between the names in columns `left` and `right` of `frame` (`words`: columns
    holding their `payer_words` already, to save reading them again).

    1.0 when the word lists agree; else the token-sort ratio of the word lists, raised to `CUT_SIMILARITY` when
    one printed name is the other cut short (a customer number cut too included), and 0 when both carry numbers
    and the numbers differ otherwise.
    """
    a, b = (pl.col(words[0]), pl.col(words[1])) if words else (payer_words(pl.col(left)), payer_words(pl.col(right)))
    # numbers and printed prefix once per distinct name (a payer's name comes back in many pairs)
    distinct = pl.concat([frame[left], frame[right]]).fill_null("").unique().to_frame("name")
    printed = distinct.with_columns(plain=payer_prefix(pl.col("name"))).with_columns(
        numbers=_numbers(pl.col("plain")))
    names = frame.select(a=a, b=b, _l=pl.col(left).fill_null(""), _r=pl.col(right).fill_null("")).join(
        printed.rename({"name": "_l", "plain": "pa", "numbers": "na"}), on="_l", how="left", maintain_order="left"
    ).join(
        printed.rename({"name": "_r", "plain": "pb", "numbers": "nb"}), on="_r", how="left", maintain_order="left"
    ).with_row_index("_i")
    scores = pl.Series("sim", [0.0] * frame.height, dtype=pl.Float64)
    need = names.filter((pl.col("a") != "") & (pl.col("b") != ""))
    if need.is_empty():
        return scores
    ratio = process.cpdist(need["a"].to_list(), need["b"].to_list(), scorer=fuzz.token_sort_ratio, workers=-1)
    shorter = pl.min_horizontal(pl.col("pa").str.len_chars(), pl.col("pb").str.len_chars())
    cut = (shorter >= CUT_MIN_CHARS) & (pl.col("pa").str.starts_with(pl.col("pb"))
                                        | pl.col("pb").str.starts_with(pl.col("pa")))
    numbers_differ = (pl.col("na") != "") & (pl.col("nb") != "") & (pl.col("na") != pl.col("nb"))
    sim = need.with_columns(r=pl.Series(ratio, dtype=pl.Float64) / 100).select(
        "_i",
        sim=pl.when(pl.col("a") == pl.col("b")).then(1.0)
        .when(cut).then(pl.max_horizontal(pl.col("r"), pl.lit(CUT_SIMILARITY)))
        .when(numbers_differ).then(0.0)
        .otherwise(pl.col("r")),
    )
    return scores.scatter(sim["_i"], sim["sim"])
