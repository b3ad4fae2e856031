"""Injected faults: what a real portal and the network in front of it do on a bad day.

A rule names a kind, optionally a method, and either a count (the next N matching calls) or a
probability (a seeded random fraction), or neither (every matching call until cleared).

Kinds and where they strike:
- transport faults, per HTTP request (the URL's method; `batch` for a batch):
  `http_500` (500 `INTERNAL_SERVER_ERROR` JSON), `html` (a 502 HTML page, as a proxy or a timeout
  gives, docs/bitrix24-api.md §4.2), `slow` (the answer is delayed by `delay_seconds`), `drop`
  (the connection closes mid-answer), `answer` (HTTP 200 with `body` as the JSON answer, whatever
  it is: a portal or a proxy answering something malformed);
- `error`, per method call, including each command inside a batch: the call answers
  `{"error": CODE, "error_description": TEXT}` with `status` (default 400); in a batch it lands in
  `result_error`, as a portal's per-method refusals do.
"""

import random
from dataclasses import dataclass

TRANSPORT_KINDS = ("http_500", "html", "slow", "drop", "answer")
KINDS = (*TRANSPORT_KINDS, "error")


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    kind: str
    method: str | None = None
    count: int | None = None
    probability: float | None = None
    delay_seconds: float = 2.0
    error: str = "INTERNAL_SERVER_ERROR"
    error_description: str = "Internal server error"
    status: int = 400
    body: object = None  # the JSON answer of an `answer` fault

    @classmethod
    def from_spec(cls, spec: dict) -> "Fault":
        if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
            raise FaultSpecError(f"a fault needs 'kind', one of {', '.join(KINDS)}")
        allowed = set(cls.__dataclass_fields__)
        unknown = set(spec) - allowed
        if unknown:
            raise FaultSpecError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        fault = cls(**spec)
        if fault.method:
            fault.method = fault.method.lower()
        if fault.count is not None and int(fault.count) < 1:
            raise FaultSpecError("'count' must be at least 1")
        if fault.probability is not None and not 0 <= float(fault.probability) <= 1:
            raise FaultSpecError("'probability' must be within [0, 1]")
        return fault

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self.rules: list[Fault] = []
        self.rng = random.Random(seed)

    def add(self, specs: list[dict], seed: int | None = None) -> None:
        new = [Fault.from_spec(s) for s in specs]
        if seed is not None:
            self.rng.seed(seed)
        self.rules.extend(new)

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str, transport: bool) -> Fault | None:
        """The first rule that strikes this request or call, consuming one of its count."""
        method = method.lower()
        for rule in list(self.rules):
            if (rule.kind in TRANSPORT_KINDS) != transport:
                continue
            if rule.method and rule.method != method:
                continue
            if rule.probability is not None and self.rng.random() >= rule.probability:
                continue
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
            return rule
        return None
