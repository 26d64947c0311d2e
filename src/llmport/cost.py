"""Prices per token and the USD cost of a call.

Prices come from the price map litellm ships inside its package
(`model_prices_and_context_window_backup.json`). The file is found on `sys.path`
(`importlib.machinery.PathFinder`), so litellm is never imported for it, and it is read
once, on the first lookup; nothing here touches the network. The config settings
`input_cost_per_token`, `output_cost_per_token` and `cached_input_cost_per_token`
override the map field by field, or price a model it lacks.

    usage (prompt, completion, cached) x Prices -> cost in USD, or None

A cost is None when the price or the usage is unknown: it is never guessed as 0.
`Spend` adds up the attempts of one call (see its docstring for the rule). A call
that runs inside `collect_spends` (a fallback group's member) also hands its `Spend`
to the collector, so a group is charged by the same rule as its members; what runs
inside a call on its behalf (its provider code, its hooks) runs `outside_spends`, so
the LLM calls those make are their own, not the group's.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import json
import logging
import math
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmport.response import LLMResponse, Usage

if TYPE_CHECKING:
    from llmport.config import BaseLLMConfig

__all__ = [
    "Prices",
    "Pricing",
    "Spend",
    "collect_spends",
    "outside_spends",
    "price_table",
    "start_spend",
    "table_prices",
]

logger = logging.getLogger(__name__)

PRICE_FILE = "model_prices_and_context_window_backup.json"
#: Model names a `Pricing` keeps the prices of; past it, the cache starts again.
PRICE_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per token: prompt (`input`), completion (`output`), cached prompt tokens.

    Without a cached price, cached prompt tokens cost the full prompt price.
    """

    input: float | None = None
    output: float | None = None
    cached_input: float | None = None

    def cost(self, usage: Usage) -> float | None:
        """The cost of `usage`, or None when a needed price or count is unknown."""
        prompt, completion = usage.prompt_tokens, usage.completion_tokens
        if prompt is None or completion is None or self.input is None or self.output is None:
            return None
        cached = usage.cached_tokens or 0
        if min(prompt, completion, cached) < 0:  # not counts: no price can be put on them
            return None
        cached = min(cached, prompt)
        cached_price = self.input if self.cached_input is None else self.cached_input
        cost = (prompt - cached) * self.input + cached * cached_price + completion * self.output
        return cost if math.isfinite(cost) else None

    def over(self, base: Prices | None) -> Prices:
        """These prices, with each unset one taken from `base`."""
        if base is None:
            return self
        return Prices(
            input=base.input if self.input is None else self.input,
            output=base.output if self.output is None else self.output,
            cached_input=base.cached_input if self.cached_input is None else self.cached_input,
        )


_table: dict[str, Prices] | None = None
_table_lock = threading.Lock()


def _price_file() -> Path | None:
    # The path finder looks at the installed package, never at sys.modules: a test's fake
    # `litellm` there (no __spec__, or a MagicMock's) must not hide the file or raise.
    spec = importlib.machinery.PathFinder.find_spec("litellm")
    for folder in (spec.submodule_search_locations or ()) if spec else ():
        path = Path(folder) / PRICE_FILE
        if path.is_file():
            return path
    return None


def _read_table() -> dict[str, Prices]:
    path = _price_file()
    if path is None:
        logger.warning("litellm's price map was not found; costs need configured prices")
        return {}
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        logger.warning("litellm's price map could not be read (%s)", type(exc).__name__)
        return {}
    table: dict[str, Prices] = {}
    for model, entry in data.items():
        if isinstance(entry, dict) and _is_number(entry.get("input_cost_per_token")):
            table[model] = Prices(
                input=entry["input_cost_per_token"],
                output=_number(entry.get("output_cost_per_token")),
                cached_input=_number(entry.get("cache_read_input_token_cost")),
            )
    return table


def _is_number(value: Any) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and value >= 0


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def price_table() -> Mapping[str, Prices]:
    """The bundled price map, model name -> `Prices`; read on the first call only."""
    global _table
    if _table is None:
        with _table_lock:
            if _table is None:
                _table = _read_table()
    return _table


def table_loaded() -> bool:
    """True once the price map has been read (async callers read it in a thread first)."""
    return _table is not None


def table_prices(model: str) -> Prices | None:
    """The map's prices for `model`, also trying it without a `provider/` prefix."""
    table = price_table()
    prices = table.get(model)
    if prices is None and "/" in model:
        prices = table.get(model.split("/", 1)[1])
    return prices


class Pricing:
    """The prices one provider instance uses: its config overrides over the price map.

    Lookups are cached per model name, so after the first call of a model a price
    costs one dict lookup. When the config sets both the prompt and completion price,
    the map is never read.
    """

    def __init__(self, config: BaseLLMConfig) -> None:
        """Take the overrides from `config` (each may be None)."""
        self.overrides = Prices(
            input=config.input_cost_per_token,
            output=config.output_cost_per_token,
            cached_input=config.cached_input_cost_per_token,
        )
        self._complete = self.overrides.input is not None and self.overrides.output is not None
        self._cache: dict[str, Prices | None] = {}

    def __len__(self) -> int:
        """The number of model names whose prices are cached."""
        return len(self._cache)

    @property
    def needs_table(self) -> bool:
        """Whether a lookup may read the price map (it is not loaded yet)."""
        return not self._complete and not table_loaded()

    async def aload(self) -> None:
        """Read the price map in a worker thread if a lookup would need it (async callers)."""
        if self.needs_table:
            await asyncio.to_thread(price_table)

    def prices(self, model: str) -> Prices | None:
        """The prices of `model`, or None when neither the config nor the map has them."""
        try:
            return self._cache[model]
        except KeyError:
            pass
        if self._complete:
            prices: Prices | None = self.overrides
        else:
            base = table_prices(model)
            has_override = self.overrides != Prices()
            prices = self.overrides.over(base) if (base or has_override) else None
        if len(self._cache) >= PRICE_CACHE_SIZE:  # names from callers or answers: bounded
            self._cache.clear()
        self._cache[model] = prices
        return prices

    def cost(self, response: LLMResponse, model: str) -> float | None:
        """The cost of one attempt's `response` to a request for `model`."""
        prices = self._cache.get(model) if model in self._cache else self.prices(model)
        if prices is None and response.model and response.model != model:
            prices = self.prices(response.model)
        return None if prices is None else prices.cost(response.usage)


class Spend:
    """What one call spent, over every attempt.

    The rule: an attempt that reported usage was billed, and its cost is added. A
    failed attempt without usage (a refused connection, a 429, a 5xx) was not billed.
    A successful attempt without usage, or a billed one whose model has no price,
    makes the call's `cost` unknown (None); `known_cost` still sums what is known,
    for budgets. `tokens` sums the billed attempts' prompt + completion tokens (or
    their reported total, when larger).
    """

    __slots__ = ("billed", "known_cost", "tokens", "unknown")

    def __init__(self) -> None:
        """Start at nothing spent."""
        self.known_cost = 0.0
        self.tokens = 0
        self.billed = False
        self.unknown = False

    def add(self, response: LLMResponse, cost: float | None) -> None:
        """Count one attempt's `response`, whose own cost is `cost`."""
        usage = response.usage
        if not usage.is_known:
            self.unknown = self.unknown or response.ok
            return
        self.billed = True
        self.tokens += _tokens(usage)
        if cost is None:
            self.unknown = True
        else:
            self.known_cost += cost

    def add_call(self, response: LLMResponse) -> None:
        """Count a whole call's `response` (its `cost` already covers its attempts).

        Used to sum calls: a fallback group's members, a tool loop's LLM calls.
        """
        usage = response.usage
        self.tokens += _tokens(usage)
        if response.cost is not None:
            self.billed = True
            self.known_cost += response.cost
        elif response.ok or usage.is_known:
            self.unknown = True

    @classmethod
    def total(cls, spends: Iterable[Spend]) -> Spend:
        """The spend of several calls together: their attempts, all counted by the rule."""
        whole = cls()
        for spend in spends:
            whole.known_cost += spend.known_cost
            whole.tokens += spend.tokens
            whole.billed = whole.billed or spend.billed
            whole.unknown = whole.unknown or spend.unknown
        return whole

    @classmethod
    def resumed(cls, cost: float | None) -> Spend:
        """A spend that continues from calls whose total was `cost` (None: unknown)."""
        spend = cls()
        if cost is None:
            spend.unknown = True
        else:
            spend.billed = True
            spend.known_cost = cost
        return spend

    @property
    def cost(self) -> float | None:
        """The call's USD cost, or None when any billed part of it is unknown."""
        return None if self.unknown or not self.billed else self.known_cost


def _tokens(usage: Usage) -> int:
    """The tokens a budget counts for `usage`: prompt + completion, or the reported total
    when it is larger (a total that leaves tokens out is not trusted)."""
    return max(usage.total_tokens or 0, (usage.prompt_tokens or 0) + (usage.completion_tokens or 0))


#: The lists that each call started now hands its `Spend` to (innermost last).
_collectors: ContextVar[tuple[list[Spend], ...]] = ContextVar("llmport_spends", default=())


def start_spend() -> Spend:
    """A new call's `Spend`, also added to every `collect_spends` list the call runs in."""
    spend = Spend()
    for spends in _collectors.get():
        spends.append(spend)
    return spend


@contextmanager
def collect_spends(spends: list[Spend]) -> Iterator[None]:
    """Add to `spends` the `Spend` of every call that starts inside this block.

    Blocks nest (a group inside a group): a call's `Spend` goes to every open list.
    The lists hold the live objects, so attempts counted after the block (a stream
    read on) are seen too. Enter and leave the block without yielding in between: a
    generator that held it open across a `yield` would collect its caller's calls.
    """
    token = _collectors.set((*_collectors.get(), spends))
    try:
        yield
    finally:
        _collectors.reset(token)


def outside_spends() -> AbstractContextManager[None]:
    """A block whose calls no open `collect_spends` list collects.

    A call runs its provider code and its hooks in one: an LLM call they make (a hook
    that asks a judge model, a provider that delegates to another LLM) is theirs, and
    the group the call belongs to is charged the call's own spend only.
    """
    if not _collectors.get():
        return nullcontext()
    return _hidden()


@contextmanager
def _hidden() -> Iterator[None]:
    token = _collectors.set(())
    try:
        yield
    finally:
        _collectors.reset(token)
