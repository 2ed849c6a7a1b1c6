"""Realistic demo events: sessions that follow a daily and weekly rhythm and a product's
story. Most land on "/", browse a few pages, some look at the pricing, fewer sign up
(a form, then an account with a plan), and some of those fill in the onboarding form;
others put a product in the cart and buy it. Each step loses visitors on the way, and
each takes its time, so that a funnel of these steps, or a breakdown of the pageviews by
path, plan or referrer, shows what a product manager would expect.

bench/demo_sql.py makes the same sessions inside the database, for the benchmarks: the
two share these constants, and a change of the story here belongs there too.
"""

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson

from events.services import EventRow

HOSTS = ["www.shop.example", "app.shop.example"]
# Pages browsed between the landing page and the pricing page, by popularity.
PATHS = ["/", "/products", "/products/lamp", "/products/chair", "/blog/launch", "/about", "/docs"]
PATH_WEIGHTS = [6, 8, 5, 4, 4, 2, 3]
ELEMENTS = ["chat bubble", "hero cta", "newsletter", "add to cart", "read more"]
BROWSERS = ["Chrome", "Safari", "Firefox", "Edge"]
COUNTRIES = ["US", "DE", "FR", "GB", "IN", "BR", "JP", "NL"]
REFERRERS = ["google", "direct", "newsletter", "twitter", "partner"]
REFERRER_WEIGHTS = [40, 25, 12, 13, 10]
PLANS = ["free", "pro", "team"]
PLAN_WEIGHTS = [60, 30, 10]
PRODUCTS = ["lamp", "chair", "desk", "rug"]
PRICES = [19.0, 49.0, 129.0, 349.0]
# The story's drop-off: the chance of each step, given the one before.
RETURNING = 0.2  # starts with a log-in instead of the landing page
PRICING = 0.45  # of all sessions
SIGNUP_PAGE = 0.45  # of those who saw the pricing
FORM_START = 0.8  # of those on the sign-up page
INVALID = 0.3  # of the forms started: a validation error first
SUBMIT = 0.7  # of the forms started
SIGNED_UP = 0.92  # of the forms submitted: the others' address already has an account
ONBOARDING = 0.6  # of the new accounts
CART = 0.15
CHECKOUT = 0.5
PURCHASE = 0.8
JS_ERROR = 0.03
SCROLL = 0.5
CTA = 0.3
# Mean seconds before each kind of step: reading a page takes less than choosing a plan.
BROWSE_SECONDS = 25
PRICING_SECONDS = 40
SIGNUP_SECONDS = 90
FORM_SECONDS = 45
ONBOARDING_SECONDS = 120
# Traffic by hour of day (UTC) and by weekday (Monday first): quiet nights, busy
# afternoons and evenings, lighter weekends. Neighbouring hours differ by at most 2:1,
# so that no hour of the charts looks like an incident.
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
            "referrer": rng.choices(REFERRERS, weights=REFERRER_WEIGHTS)[0],
        }

    def step(self, category: str, name: str, *, after: float, **data: object) -> EventRow:
        """The next event, on average `after` seconds after the previous one."""
        self.at += timedelta(seconds=self.rng.expovariate(1 / after))
        payload = {**self.context, **data}
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return EventRow(event_id, self.at, self.id, category, name, orjson.dumps(payload).decode())

    def page(self, path: str, *, after: float) -> Iterator[EventRow]:
        rng = self.rng
        yield self.step("page interaction", "pageview", after=after, path=path)
        if rng.random() < SCROLL:
            yield self.step(
                "page interaction",
                "scroll",
                after=BROWSE_SECONDS,
                path=path,
                depth=rng.choice([25, 50, 75, 100]),
            )
        if rng.random() < CTA:
            yield self.step(
                "page interaction",
                "cta click",
                after=BROWSE_SECONDS,
                path=path,
                element=rng.choice(ELEMENTS),
            )

    def journey(self) -> Iterator[EventRow]:
        rng = self.rng
        returning = rng.random() < RETURNING
        if returning:
            yield self.step("account", "log in", after=BROWSE_SECONDS)
        else:
            yield from self.page("/", after=BROWSE_SECONDS)
        for _ in range(rng.randint(0, 6)):
            yield from self.page(rng.choices(PATHS, weights=PATH_WEIGHTS)[0], after=BROWSE_SECONDS)
        if rng.random() < PRICING:
            plan = rng.choices(PLANS, weights=PLAN_WEIGHTS)[0]
            yield self.step("page interaction", "pageview", after=BROWSE_SECONDS, path="/pricing")
            yield self.step(
                "page interaction",
                "cta click",
                after=PRICING_SECONDS,
                path="/pricing",
                element="choose plan",
                plan=plan,
            )
            # Who logged in has an account already.
            if rng.random() < SIGNUP_PAGE and not returning:
                yield from self.signup(plan)
        if rng.random() < CART:
            yield from self.purchase()
        if rng.random() < JS_ERROR:
            yield self.step(
                "errors",
                "js error",
                after=BROWSE_SECONDS,
                message="TypeError: x is undefined",
                path=rng.choices(PATHS, weights=PATH_WEIGHTS)[0],
            )

    def signup(self, plan: str) -> Iterator[EventRow]:
        rng = self.rng
        yield self.step("page interaction", "pageview", after=BROWSE_SECONDS, path="/signup")
        if rng.random() >= FORM_START:
            return
        yield self.step("form interaction", "form start", after=SIGNUP_SECONDS, form="signup")
        if rng.random() < INVALID:
            yield self.step(
                "form interaction",
                "validation error",
                after=FORM_SECONDS,
                form="signup",
                field=rng.choice(["email", "password"]),
            )
        if rng.random() >= SUBMIT:
            return
        yield self.step(
            "form interaction",
            "submit",
            after=FORM_SECONDS,
            form="signup",
            fields=["first_name", "last_name", "email"],
        )
        if rng.random() >= SIGNED_UP:
            return
        yield self.step("account", "sign up", after=2, plan=plan)
        if rng.random() < ONBOARDING:
            yield self.step(
                "form interaction",
                "submit",
                after=ONBOARDING_SECONDS,
                form="onboarding",
                fields=["company", "team_size"],
            )

    def purchase(self) -> Iterator[EventRow]:
        rng = self.rng
        index = rng.randrange(len(PRODUCTS))
        product, price = PRODUCTS[index], PRICES[index]
        yield self.step(
            "commerce", "add to cart", after=BROWSE_SECONDS, product=product, price=price
        )
        if rng.random() < CHECKOUT:
            yield self.step("commerce", "checkout", after=FORM_SECONDS, path="/checkout", items=1)
            if rng.random() < PURCHASE:
                yield self.step(
                    "commerce",
                    "purchase",
                    after=FORM_SECONDS,
                    product=product,
                    price=price,
                    currency="EUR",
                )


def demo_hour_weight(hour: datetime) -> int:
    return HOUR_WEIGHTS[hour.hour] * WEEKDAY_WEIGHTS[hour.weekday()]


def demo_session_start(rng: random.Random, *, end: datetime, days: int) -> datetime:
    """A start time in the `days` days before `end`, following the daily and weekly
    rhythm: a uniform instant, kept with the chance of its hour's weight. Every instant
    up to `end` itself can be drawn, so the newest minutes are as busy as their hour
    should be, and no hour gets the starts of another."""
    span = timedelta(days=days).total_seconds()
    most = max(HOUR_WEIGHTS) * max(WEEKDAY_WEIGHTS)
    while True:
        start = end - timedelta(seconds=rng.random() * span)
        if rng.random() * most < demo_hour_weight(start):
            return start


def demo_end() -> datetime:
    """The present minute: the demo ends now, and the same seed within the minute gives
    the same events (the unique key then ignores a second load)."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def demo_events(
    *, count: int, days: int, seed: int, end: datetime | None = None
) -> Iterator[EventRow]:
    """`count` events, session by session, all before `end` (by default, the present
    minute). A session still under way at `end` has only its events until then, as a
    live product has."""
    rng = random.Random(seed)
    end = end or demo_end()
    made = 0
    while made < count:
        session = DemoSession(rng, demo_session_start(rng, end=end, days=days))
        for row in session.journey():
            if row.timestamp >= end:
                break
            if made == count:
                return
            made += 1
            yield row
