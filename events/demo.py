"""Realistic demo events: sessions that follow a daily and weekly rhythm and move through
plausible journeys (browse, click, fill a form, buy), with payloads to match."""

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson

from events.services import EventRow

HOSTS = ["www.shop.example", "app.shop.example"]
PATHS = [
    "/",
    "/pricing",
    "/products",
    "/products/lamp",
    "/products/chair",
    "/blog/launch",
    "/about",
    "/checkout",
    "/account",
]
ELEMENTS = [
    "chat bubble",
    "sign up button",
    "hero cta",
    "pricing toggle",
    "add to cart",
    "newsletter",
]
BROWSERS = ["Chrome", "Safari", "Firefox", "Edge"]
COUNTRIES = ["US", "DE", "FR", "GB", "IN", "BR", "JP", "NL"]
REFERRERS = ["google", "direct", "newsletter", "twitter", "partner"]
# Traffic by hour of day (UTC) and by weekday (Monday first): quiet nights, busy
# afternoons and evenings, lighter weekends.
HOUR_WEIGHTS = [2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 10, 10, 11, 12, 13, 13, 13, 14, 15, 15, 13, 10, 7, 4]
WEEKDAY_WEIGHTS = [10, 11, 11, 10, 9, 6, 5]


class DemoSession:
    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng = rng
        self.id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.at = start
        self.context = {
            "host": rng.choice(HOSTS),
            "browser": rng.choice(BROWSERS),
            "country": rng.choice(COUNTRIES),
            "referrer": rng.choice(REFERRERS),
        }

    def step(self, category: str, name: str, **data: object) -> EventRow:
        self.at += timedelta(seconds=self.rng.expovariate(1 / 25))
        payload = {**self.context, **data}
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return EventRow(event_id, self.at, self.id, category, name, orjson.dumps(payload).decode())

    def journey(self) -> Iterator[EventRow]:
        rng = self.rng
        yield (
            self.step("account", "log in")
            if rng.random() < 0.25
            else self.step("page interaction", "pageview", path="/")
        )
        for _ in range(rng.randint(1, 12)):
            path = rng.choice(PATHS)
            yield self.step("page interaction", "pageview", path=path)
            if rng.random() < 0.5:
                yield self.step(
                    "page interaction", "scroll", path=path, depth=rng.choice([25, 50, 75, 100])
                )
            if rng.random() < 0.3:
                yield self.step(
                    "page interaction", "cta click", path=path, element=rng.choice(ELEMENTS)
                )
        if rng.random() < 0.2:
            yield self.step("form interaction", "form start", form="signup")
            if rng.random() < 0.3:
                yield self.step(
                    "form interaction",
                    "validation error",
                    form="signup",
                    field=rng.choice(["email", "password"]),
                )
            if rng.random() < 0.7:
                yield self.step(
                    "form interaction",
                    "submit",
                    form="signup",
                    fields=["first_name", "last_name", "email"],
                )
                yield self.step("account", "sign up", plan=rng.choice(["free", "pro"]))
        if rng.random() < 0.15:
            product = rng.choice(["lamp", "chair", "desk", "rug"])
            price = rng.choice([19.0, 49.0, 129.0, 349.0])
            yield self.step("commerce", "add to cart", product=product, price=price)
            if rng.random() < 0.5:
                yield self.step("commerce", "checkout", path="/checkout", items=1)
                if rng.random() < 0.8:
                    yield self.step(
                        "commerce", "purchase", product=product, price=price, currency="EUR"
                    )
        if rng.random() < 0.03:
            yield self.step(
                "errors", "js error", message="TypeError: x is undefined", path=rng.choice(PATHS)
            )


def demo_session_start(rng: random.Random, *, end: datetime, days: int) -> datetime:
    """A start time over the last `days` days following the daily and weekly rhythm."""
    while True:
        day = end - timedelta(days=rng.randrange(days))
        if rng.random() * max(WEEKDAY_WEIGHTS) <= WEEKDAY_WEIGHTS[day.weekday()]:
            break
    hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
    start = day.replace(
        hour=hour,
        minute=rng.randrange(60),
        second=rng.randrange(60),
        microsecond=rng.randrange(1_000_000),
    )
    return min(start, end - timedelta(hours=1))


def demo_events(
    *, count: int, days: int, seed: int, end: datetime | None = None
) -> Iterator[EventRow]:
    """`count` events, session by session, all before `end`. By default that is the start
    of the current hour, so that the same seed within the hour gives the same events."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    made = 0
    while made < count:
        session = DemoSession(rng, demo_session_start(rng, end=end, days=days))
        for row in session.journey():
            if made == count:
                return
            if row.timestamp < end:
                made += 1
                yield row
