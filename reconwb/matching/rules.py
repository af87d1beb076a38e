"""The matching rules: an ordered, versioned TOML file, with defaults that work when there is no file.

A rule is a set of conditions a candidate (one transaction, one payment) must meet; the first rule in file order
that a candidate meets names it and caps its confidence. Rules only say *whether* a link is plausible and why;
the score (`scoring.py`) says how sure we are, and the bands turn scores into auto-matches and suggestions.

Money in rules is exact: amounts are decimal strings, percentages have at most three decimals, and every
computation on them happens in integer cents.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from reconwb.errors import InvalidInput

REFERENCE_LEVELS = ("exact", "extracted", "fuzzy")  # each level also accepts the stricter ones before it
PAYER_MODES = ("name", "iban", "name_or_iban", "absent")  # absent: the deposit names no payer and no IBAN
DEFAULT_TOKEN_PATTERN = r"[A-Za-z0-9][A-Za-z0-9\-/_.]{2,}"  # noqa: S105 (a regex, not a secret)
T = TypeVar("T")  # an amount in cents: an int, a numpy array or a polars expression


def _cents(value: Any, where: str) -> int:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{where}: {value!r} is not a decimal amount") from None
    if amount != amount.quantize(Decimal("0.01")) or amount < 0:
        raise InvalidInput(f"{where}: {value!r} must be a non-negative amount with at most 2 decimals")
    return int(amount * 100)


def _milli_pct(value: Any, where: str) -> int:
    """A percentage as thousandths of a percent (2.9 -> 2900), so fee and tolerance maths stays integral."""
    try:
        pct = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{where}: {value!r} is not a percentage") from None
    if pct < 0 or pct > 100 or pct != pct.quantize(Decimal("0.001")):
        raise InvalidInput(f"{where}: {value!r} must be a percentage between 0 and 100 with at most 3 decimals")
    return int(pct * 1000)


@dataclass(frozen=True)
class Fee:
    """What the payer's provider keeps: `pct` percent of the amount plus `fixed` (e.g. 2.9 % + 0.30)."""

    pct_milli: int = 0
    fixed_cents: int = 0

    def fee_cents(self, cents: T) -> T:
        """The fee on `cents`, rounded half up; integer maths, so it serves ints, numpy arrays and polars
        expressions alike (every place that looks for a fee uses this one formula)."""
        return (cents * self.pct_milli + 50_000) // 100_000 + self.fixed_cents  # type: ignore[operator, return-value]

    @property
    def label(self) -> str:
        parts = []
        if self.pct_milli:
            parts.append(f"{Decimal(self.pct_milli) / 1000}%")
        if self.fixed_cents:
            parts.append(f"{Decimal(self.fixed_cents) / 100}")
        return "fee " + " + ".join(parts or ["0"])


@dataclass(frozen=True)
class AmountCondition:
    """Exact always passes; `fees` and a tolerance (absolute, percentage, bounded by `max`) widen it. `fx`: the
    deposit may be in another currency, converted at the rates table's rate within the rules' FX tolerance
    (and only such deposits pass: a same-currency deposit is for the other rules). `unique`: the amount is exact
    and no other candidate of the deposit or of the invoice has it."""

    fees: tuple[Fee, ...] = ()
    fx: bool = False
    unique: bool = False  # exact, and the only exact-amount candidate of its deposit and of its invoice
    tolerance_abs_cents: int = 0
    tolerance_pct_milli: int = 0
    tolerance_max_cents: int | None = None

    @property
    def has_tolerance(self) -> bool:
        return bool(self.tolerance_abs_cents or self.tolerance_pct_milli)


WINDOW_ANCHORS = ("life", "due")


@dataclass(frozen=True)
class DateWindow:
    """When a deposit may be booked for an invoice.

    `life` (the default) follows the invoice's whole life: from `before` days before its issue date (customers
    who pay ahead) to `after` days after its due date (the grace for late payers), so a customer who pays three
    weeks early on 60-day terms is inside. `due` is the narrow window of `before` and `after` days around the due
    date. A missing date falls back on the other one.
    """

    before: int = 10
    after: int = 60
    anchor: str = "life"

    def contains(self, since_issue: T, since_due: T) -> T:
        """Whether a booking `since_issue` days after the issue date and `since_due` after the due date is in
        the window (ints, numpy arrays or polars expressions alike)."""
        start = since_due if self.anchor == "due" else since_issue
        return (start >= -self.before) & (since_due <= self.after)  # type: ignore[operator, return-value]


@dataclass(frozen=True)
class Rule:
    name: str
    reference: str | None = None  # exact | extracted | fuzzy | None (not required)
    payer: str | None = None  # name | iban | name_or_iban | None
    amount: AmountCondition = field(default_factory=AmountCondition)
    date: DateWindow = field(default_factory=DateWindow)
    account: bool = True  # when the payment names an account, the deposit must be on it
    max_confidence: float = 1.0


@dataclass(frozen=True)
class Rules:
    version: str
    rules: tuple[Rule, ...]
    auto_threshold: float = 0.90
    suggest_threshold: float = 0.50
    ambiguity_margin: float = 0.05
    token_patterns: tuple[str, ...] = (DEFAULT_TOKEN_PATTERN,)
    fuzzy_max_distance: int = 1
    fuzzy_min_length: int = 6
    payer_min_similarity: float = 0.85
    split_max_parts: int = 20
    batch_max_items: int = 5
    batch_max_candidates: int = 12
    rare_amount_max: int = 4  # amount-only candidates only where an amount is this rare on both sides
    fx_tolerance_pct_milli: int = 1000  # a converted deposit may differ this much from the invoice (1.000 %)
    fx_max_rate_age_days: int = 5  # the rate used is the latest published at most this many days before booking
    source: str = "defaults"

    @property
    def fees(self) -> tuple[Fee, ...]:
        """Every fee schedule any rule uses (candidate generation looks for each)."""
        seen: dict[Fee, None] = {}
        for rule in self.rules:
            for fee in rule.amount.fees:
                seen[fee] = None
        return tuple(seen)

    def in_any_window(self, since_issue: pl.Expr, since_due: pl.Expr) -> pl.Expr:
        """In the date window of at least one rule (candidates outside every window are not worth scoring);
        true when the invoice has no dates at all."""
        windows = dict.fromkeys(r.date for r in self.rules)
        inside = pl.lit(False)
        for window in windows:
            inside = inside | window.contains(since_issue, since_due)
        return inside.fill_null(True)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)



FEES = '[ { pct = "2.9", fixed = "0.30" }, { fixed = "15.00" } ]'
DEFAULT_TOML = f"""
version = "default-2"

[bands]
auto = 0.90
suggest = 0.50
ambiguity_margin = 0.05

# every rule's window unless it says otherwise: the invoice's life, from 10 days before its issue date
# (pre-payments) to 60 days after its due date (late payers)
[date]
before = 10
after = 60

[reference]
fuzzy_max_distance = 1
fuzzy_min_length = 6

[fx]
tolerance_pct = "1.0"
max_rate_age_days = 5

[[rule]]
name = "reference-exact"
reference = "exact"

[[rule]]
name = "reference-in-text"
reference = "extracted"

[[rule]]
name = "reference-fee"
reference = "extracted"
amount = {{ fees = {FEES} }}

[[rule]]
name = "reference-tolerance"
reference = "extracted"
amount = {{ tolerance_abs = "0.05", tolerance_pct = "0.5", tolerance_max = "5.00" }}
max_confidence = 0.95

[[rule]]
name = "payer-reference-typo"
reference = "fuzzy"
payer = "name_or_iban"
amount = {{ fees = {FEES} }}
max_confidence = 0.98

[[rule]]
name = "reference-fuzzy"
reference = "fuzzy"
amount = {{ fees = {FEES} }}
max_confidence = 0.96

[[rule]]
name = "reference-fx"
reference = "extracted"
amount = {{ fx = true }}
max_confidence = 0.95

[[rule]]
name = "payer-amount"
payer = "name_or_iban"
date = {{ before = 10, after = 45 }}
max_confidence = 0.95

[[rule]]
name = "payer-fee"
payer = "name_or_iban"
amount = {{ fees = {FEES} }}
date = {{ before = 10, after = 45 }}
max_confidence = 0.93

[[rule]]
name = "payer-fx"
payer = "name_or_iban"
amount = {{ fx = true }}
date = {{ before = 10, after = 45 }}
max_confidence = 0.92

[[rule]]
name = "amount-unique"
payer = "absent"
amount = {{ unique = true }}
date = {{ before = 5, after = 30 }}
max_confidence = 0.92

[[rule]]
name = "amount-date"
date = {{ before = 5, after = 30 }}
max_confidence = 0.75
"""


def _amount(spec: Any, where: str) -> AmountCondition:
    if spec in (None, "exact"):
        return AmountCondition()
    if not isinstance(spec, dict):
        raise InvalidInput(f"{where}: amount must be \"exact\" or a table")
    unknown = set(spec) - {"fees", "tolerance_abs", "tolerance_pct", "tolerance_max", "fx", "unique"}
    if unknown:
        raise InvalidInput(f"{where}: unknown amount keys {sorted(unknown)}")
    fees = []
    for i, fee in enumerate(spec.get("fees", [])):
        if not isinstance(fee, dict) or set(fee) - {"pct", "fixed"}:
            raise InvalidInput(f"{where}: fee {i + 1} must be a table with pct and/or fixed")
        fees.append(Fee(_milli_pct(fee.get("pct", 0), f"{where} fee {i + 1}"),
                        _cents(fee.get("fixed", 0), f"{where} fee {i + 1}")))
    maximum = spec.get("tolerance_max")
    for flag in ("fx", "unique"):
        if not isinstance(spec.get(flag, False), bool):
            raise InvalidInput(f"{where}: amount {flag} must be true or false")
    return AmountCondition(
        fees=tuple(fees),
        fx=spec.get("fx", False),
        unique=spec.get("unique", False),
        tolerance_abs_cents=_cents(spec.get("tolerance_abs", 0), where),
        tolerance_pct_milli=_milli_pct(spec.get("tolerance_pct", 0), where),
        tolerance_max_cents=None if maximum is None else _cents(maximum, where),
    )


def _window(spec: Any, default: DateWindow, where: str) -> DateWindow:
    if spec is None:
        return default
    if not isinstance(spec, dict) or set(spec) - {"before", "after", "anchor"}:
        raise InvalidInput(f"{where}: date must be a table with before and/or after (days) and an optional anchor")
    before, after = spec.get("before", default.before), spec.get("after", default.after)
    if not all(isinstance(v, int) and 0 <= v <= 3650 for v in (before, after)):
        raise InvalidInput(f"{where}: date window days must be whole numbers between 0 and 3650")
    anchor = spec.get("anchor", default.anchor)
    if anchor not in WINDOW_ANCHORS:
        raise InvalidInput(f"{where}: date anchor must be one of {', '.join(WINDOW_ANCHORS)}")
    return DateWindow(before, after, anchor)


def _rule(spec: Any, index: int, window: DateWindow) -> Rule:
    where = f"rule {index + 1}"
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise InvalidInput(f"{where}: every rule needs a name")
    where = f"rule {spec['name']!r}"
    known = {"name", "reference", "payer", "amount", "date", "account", "max_confidence"}
    if set(spec) - known:
        raise InvalidInput(f"{where}: unknown keys {sorted(set(spec) - known)}")
    reference = spec.get("reference")
    if reference is not None and reference not in REFERENCE_LEVELS:
        raise InvalidInput(f"{where}: reference must be one of {', '.join(REFERENCE_LEVELS)}")
    payer = spec.get("payer")
    if payer is not None and payer not in PAYER_MODES:
        raise InvalidInput(f"{where}: payer must be one of {', '.join(PAYER_MODES)}")
    cap = spec.get("max_confidence", 1.0)
    if not isinstance(cap, int | float) or not 0 < cap <= 1:
        raise InvalidInput(f"{where}: max_confidence must be in (0, 1]")
    if spec["name"] == "manual":
        raise InvalidInput(f"{where}: the name 'manual' is reserved for links made by a person")
    return Rule(
        name=spec["name"],
        reference=reference,
        payer=payer,
        amount=_amount(spec.get("amount"), where),
        date=_window(spec.get("date"), window, where),
        account=bool(spec.get("account", True)),
        max_confidence=float(cap),
    )


def parse(text: str, source: str = "<text>") -> Rules:
    """Rules from TOML text; errors name the source and the rule."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(f"{source}: not valid TOML: {err}") from None
    try:
        return _from_data(data, text)
    except InvalidInput as err:
        raise InvalidInput(f"{source}: {err}") from None


def _from_data(data: dict[str, Any], text: str) -> Rules:
    bands = data.get("bands", {})
    ref = data.get("reference", {})
    shapes = data.get("shapes", {})
    window = _window(data.get("date"), DateWindow(), "date")
    fx = data.get("fx", {})
    if not isinstance(fx, dict) or set(fx) - {"tolerance_pct", "max_rate_age_days"}:
        raise InvalidInput("fx: a table with tolerance_pct and/or max_rate_age_days")
    rate_age = fx.get("max_rate_age_days", 5)
    if not isinstance(rate_age, int) or not 0 <= rate_age <= 31:
        raise InvalidInput("fx: max_rate_age_days must be a whole number between 0 and 31")
    specs = data.get("rule")
    if not isinstance(specs, list) or not specs:
        raise InvalidInput("at least one [[rule]] is needed")
    rules = tuple(_rule(spec, i, window) for i, spec in enumerate(specs))
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise InvalidInput("rule names must be unique")
    auto, suggest = float(bands.get("auto", 0.90)), float(bands.get("suggest", 0.50))
    if not 0 < suggest <= auto <= 1:
        raise InvalidInput("bands: need 0 < suggest <= auto <= 1")
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    patterns = tuple(ref.get("patterns", [DEFAULT_TOKEN_PATTERN]))
    return Rules(
        version=f"{data.get('version', 'unversioned')}+{digest}",
        rules=rules,
        auto_threshold=auto,
        suggest_threshold=suggest,
        ambiguity_margin=float(bands.get("ambiguity_margin", 0.05)),
        token_patterns=patterns,
        fuzzy_max_distance=int(ref.get("fuzzy_max_distance", 1)),
        fuzzy_min_length=int(ref.get("fuzzy_min_length", 6)),
        payer_min_similarity=float(data.get("payer", {}).get("min_similarity", 0.85)),
        split_max_parts=int(shapes.get("split_max_parts", 20)),
        batch_max_items=int(shapes.get("batch_max_items", 5)),
        batch_max_candidates=int(shapes.get("batch_max_candidates", 12)),
        rare_amount_max=int(data.get("candidates", {}).get("rare_amount_max", 4)),
        fx_tolerance_pct_milli=_milli_pct(fx.get("tolerance_pct", "1.0"), "fx tolerance_pct"),
        fx_max_rate_age_days=rate_age,
    )


def load(path: str | Path | None = None) -> Rules:
    """The rules in `path`, or the defaults when `path` is None."""
    if path is None:
        return parse(DEFAULT_TOML, "default rules")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidInput(f"cannot read rules file {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not a rules file: not UTF-8 text (a rules file is TOML)") from None
    rules = parse(text, str(path))
    return Rules(**{**rules.__dict__, "source": str(path)})

