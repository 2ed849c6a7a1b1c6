"""Demo-shaped events written by the database itself: the SQL behind bench/bulk_load.py.

What the query part measures is reads on a table of a given size and shape, not how the
table was filled, so the server makes the rows instead of Python: every pseudo-random
choice is a hash of (seed, session number, slot, purpose) with the built-in
hashint8extended, so the same seed gives the same rows, in any number of workers. The
story is events.demo's (the generator of `make demo`), with its constants: a session
starts with a log-in or the landing page "/", browses 0 to 6 pages (a pageview, maybe a
scroll and a CTA click on each), maybe looks at the pricing and picks a plan, then (if it
did not log in) maybe opens the sign-up page, starts and submits the form, gets an account
and submits the onboarding form; maybe buys; rarely hits a JS error. The same categories,
names and `data` keys (host, browser, country, referrer, path, plan, ...), drawn with the
same weights; session starts spread over the last `days` days with the demo's hour-of-day
and weekday weights. Only the delays differ: here the steps sit on a grid of slots.
"""

from datetime import datetime, timedelta
from functools import reduce
from math import gcd

# Slots of a session, in time order: page p (0 is the landing page, then 1..pages) has
# slots 3p, 3p+1 and 3p+2 for its pageview, scroll and CTA click (slot 0 is the log-in
# instead, for a returning visitor, who then has no scroll or click on it); the TAIL
# slots follow the last page. A slot becomes an event if its draw says so.
MAX_PAGES = 6
TAIL = (
    ("page interaction", "pageview"),  # /pricing
    ("page interaction", "cta click"),  # "choose plan", with the plan
    ("page interaction", "pageview"),  # /signup
    ("form interaction", "form start"),
    ("form interaction", "validation error"),
    ("form interaction", "submit"),  # the sign-up form
    ("account", "sign up"),
    ("form interaction", "submit"),  # the onboarding form
    ("commerce", "add to cart"),
    ("commerce", "checkout"),
    ("commerce", "purchase"),
    ("errors", "js error"),
)
# What a slot is, by the kind number the query gives it (an index into KINDS).
KINDS = (
    ("account", "log in"),
    ("page interaction", "pageview"),
    ("page interaction", "scroll"),
    ("page interaction", "cta click"),
    *TAIL,
)
FIRST_TAIL_KIND = 4
# Slots sit 15 s apart (plus a random offset within the slot); the longest session (33
# slots) lasts about 8 minutes, as a long one of events.demo does.
SLOT_SECONDS = 15
# What each draw decides. Each purpose has its own hash seed (seed * 64 + purpose) and
# each draw of a session hashes k * 64 + slot (a session has at most 33 slots), so no two
# draws of a load hash the same input with the same seed.
(
    START,
    PAGES,
    LOGIN,
    HOST,
    BROWSER,
    COUNTRY,
    REFERRER,
    PRICING,
    SIGNUP_PAGE,
    FORM,
    INVALID,
    SUBMIT,
    SIGNED_UP,
    ONBOARDING,
    CART,
    CHECKOUT,
    PURCHASE,
    JS_ERROR,
    FIELD,
    PLAN,
    PRODUCT,
    SESSION_ID_HIGH,
    SESSION_ID_LOW,
    SCROLL,
    CTA,
    PATH,
    DEPTH,
    ELEMENT,
    ERROR_PATH,
    EVENT_ID_HIGH,
    EVENT_ID_LOW,
    OFFSET,
) = range(32)
MASK_53 = (1 << 53) - 1
# UUID version 4 and RFC 4122 variant bits, as events.demo's uuid.UUID(version=4) sets.
VERSION_CLEAR, VERSION_SET = ~(0xF << 12), 4 << 12
VARIANT_CLEAR, VARIANT_SET = (1 << 62) - 1, -(1 << 63)


def _literal(values: list[str] | tuple[str, ...]) -> str:
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"ARRAY[{quoted}]::text[]"


def _weighted(values: list[str], weights: list[int]) -> list[str]:
    """The values, each repeated by its weight (over their common divisor): a uniform
    pick from the list is then the weighted pick of random.choices."""
    common = reduce(gcd, weights)
    return [
        value
        for value, weight in zip(values, weights, strict=True)
        for _ in range(weight // common)
    ]


def _hash(seed: int, purpose: int, key: str) -> str:
    """A 64-bit hash of `key` for this seed and purpose (a built-in, fast and stable)."""
    return f"hashint8extended({key}, {seed * 64 + purpose})"


def _draw(seed: int, purpose: int, key: str = "k * 64") -> str:
    """A uniform float in [0, 1): the low 53 bits of the hash, over 2**53."""
    return f"(({_hash(seed, purpose, key)} & {MASK_53})::float8 / {MASK_53 + 1}.0)"


def _pick(seed: int, purpose: int, values: str, count: int, key: str = "k * 64") -> str:
    return f"({values})[1 + floor({_draw(seed, purpose, key)} * {count})::int]"


def _uuid(seed: int, high: int, low: int, key: str) -> str:
    """A version-4 UUID from two hashes: 122 random bits, like uuid.UUID(version=4)."""
    first = f"({_hash(seed, high, key)} & {VERSION_CLEAR} | {VERSION_SET})"
    second = f"({_hash(seed, low, key)} & {VARIANT_CLEAR} | {VARIANT_SET})"
    return f"(lpad(to_hex({first}), 16, '0') || lpad(to_hex({second}), 16, '0'))::uuid"


def sessions_sql(seed: int) -> str:
    """One row per session number k in [%(first)s, %(last)s]: its id, start, pages and
    what it will do. The start maps k / %(sessions)s through the cumulative hourly weights,
    so sessions come in time order and the busy hours get more of them."""
    from events import demo

    def draw(purpose: int) -> str:
        return _draw(seed, purpose)

    def chance(purpose: int, probability: float) -> str:
        return f"{draw(purpose)} < {probability}"

    login = chance(LOGIN, demo.RETURNING)
    pricing = chance(PRICING, demo.PRICING)
    signup_page = f"{pricing} AND NOT ({login}) AND {chance(SIGNUP_PAGE, demo.SIGNUP_PAGE)}"
    form = f"{signup_page} AND {chance(FORM, demo.FORM_START)}"
    submit = f"{form} AND {chance(SUBMIT, demo.SUBMIT)}"
    signed_up = f"{submit} AND {chance(SIGNED_UP, demo.SIGNED_UP)}"
    cart = chance(CART, demo.CART)
    checkout = f"{cart} AND {chance(CHECKOUT, demo.CHECKOUT)}"
    referrers = _weighted(demo.REFERRERS, demo.REFERRER_WEIGHTS)
    context = ", ".join(
        f"'{key}', {_pick(seed, purpose, _literal(values), len(values))}"
        for key, purpose, values in (
            ("host", HOST, demo.HOSTS),
            ("browser", BROWSER, demo.BROWSERS),
            ("country", COUNTRY, demo.COUNTRIES),
            ("referrer", REFERRER, referrers),
        )
    )
    plans = _weighted(demo.PLANS, demo.PLAN_WEIGHTS)
    # One draw picks the product and its price, as events.demo picks one index for both.
    product = f"1 + floor({draw(PRODUCT)} * {len(demo.PRODUCTS)})::int"
    prices = "ARRAY[" + ", ".join(str(price) for price in demo.PRICES) + "]"
    return f"""
    SELECT k,
           {_uuid(seed, SESSION_ID_HIGH, SESSION_ID_LOW, "k * 64")} AS session_id,
           %(first_hour)s::timestamptz
               + (hour - 1 + (u - (%(lower)s::float8[])[hour]) / (%(width)s::float8[])[hour])
               * interval '1 hour' AS start,
           floor({draw(PAGES)} * {MAX_PAGES + 1})::int AS pages,
           {login} AS login,
           jsonb_build_object({context}) AS context,
           {pricing} AS pricing,
           {signup_page} AS signup_page,
           {form} AS form,
           {form} AND {chance(INVALID, demo.INVALID)} AS invalid,
           {submit} AS submit,
           {signed_up} AS signed_up,
           {signed_up} AND {chance(ONBOARDING, demo.ONBOARDING)} AS onboarding,
           {cart} AS cart,
           {checkout} AS checkout,
           {checkout} AND {chance(PURCHASE, demo.PURCHASE)} AS purchase,
           {chance(JS_ERROR, demo.JS_ERROR)} AS js_error,
           {_pick(seed, FIELD, _literal(("email", "password")), 2)} AS field,
           {_pick(seed, PLAN, _literal(plans), len(plans))} AS plan,
           ({_literal(demo.PRODUCTS)})[{product}] AS product,
           ({prices})[{product}] AS price
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS k,
         LATERAL (SELECT (k - 1 + {draw(START)}) / %(sessions)s AS u) AS position,
         LATERAL (SELECT width_bucket(u, %(lower)s::float8[]) AS hour) AS bucket
    -- OFFSET 0 keeps this a subquery: evaluated once per session, not once per event.
    OFFSET 0
    """


def events_sql(seed: int) -> str:
    """The rows of sessions [%(first)s, %(last)s], at most %(limit)s of them: the session
    number k, then the columns of `events` that vary."""
    from events import demo

    slot_key = "s.k * 64 + slot"
    page_key = "s.k * 64 + slot / 3"

    def draw(purpose: int, key: str = slot_key) -> str:
        return _draw(seed, purpose, key)

    paths = _weighted(demo.PATHS, demo.PATH_WEIGHTS)
    browsed = _pick(seed, PATH, _literal(paths), len(paths), page_key)
    # Slots 0 to 2 are the landing page's.
    path = f"CASE WHEN slot < 3 THEN '/' ELSE {browsed} END"
    element = _pick(seed, ELEMENT, _literal(demo.ELEMENTS), len(demo.ELEMENTS), slot_key)
    error_path = _pick(seed, ERROR_PATH, _literal(paths), len(paths), slot_key)
    depth = _pick(seed, DEPTH, "ARRAY[25, 50, 75, 100]", 4, slot_key)
    data = {
        0: "'{}'::jsonb",
        1: f"jsonb_build_object('path', {path})",
        2: f"jsonb_build_object('path', {path}, 'depth', {depth})",
        3: f"jsonb_build_object('path', {path}, 'element', {element})",
        4: """'{"path": "/pricing"}'::jsonb""",
        5: """jsonb_build_object('path', '/pricing', 'element', 'choose plan', 'plan', s.plan)""",
        6: """'{"path": "/signup"}'::jsonb""",
        7: """'{"form": "signup"}'::jsonb""",
        8: """jsonb_build_object('form', 'signup', 'field', s.field)""",
        9: """'{"form": "signup", "fields": ["first_name", "last_name", "email"]}'::jsonb""",
        10: "jsonb_build_object('plan', s.plan)",
        11: """'{"form": "onboarding", "fields": ["company", "team_size"]}'::jsonb""",
        12: "jsonb_build_object('product', s.product, 'price', s.price)",
        13: """'{"path": "/checkout", "items": 1}'::jsonb""",
        14: "jsonb_build_object('product', s.product, 'price', s.price, 'currency', 'EUR')",
        15: f"""jsonb_build_object('message', 'TypeError: x is undefined', 'path', {error_path})""",
    }
    emitted = {
        2: f"NOT (slot < 3 AND s.login) AND {draw(SCROLL)} < {demo.SCROLL}",
        3: f"NOT (slot < 3 AND s.login) AND {draw(CTA)} < {demo.CTA}",
        4: "s.pricing",
        5: "s.pricing",
        6: "s.signup_page",
        7: "s.form",
        8: "s.invalid",
        9: "s.submit",
        10: "s.signed_up",
        11: "s.onboarding",
        12: "s.cart",
        13: "s.checkout",
        14: "s.purchase",
        15: "s.js_error",
    }
    data_case = " ".join(f"WHEN {kind} THEN {value}" for kind, value in data.items())
    emitted_case = " ".join(f"WHEN {kind} THEN {value}" for kind, value in emitted.items())
    return f"""
    SELECT s.k,
           {_uuid(seed, EVENT_ID_HIGH, EVENT_ID_LOW, slot_key)} AS event_id,
           s.start + (slot + {draw(OFFSET)}) * interval '{SLOT_SECONDS} seconds' AS "timestamp",
           s.session_id,
           ({_literal([category for category, _ in KINDS])})[kind + 1] AS category,
           ({_literal([name for _, name in KINDS])})[kind + 1] AS name,
           s.context || CASE kind {data_case} END AS data
    FROM ({sessions_sql(seed)}) AS s,
         generate_series(0, 3 * s.pages + 2 + {len(TAIL)}) AS slot,
         LATERAL (
             SELECT CASE
                 WHEN slot = 0 THEN CASE WHEN s.login THEN 0 ELSE 1 END
                 WHEN slot <= 3 * s.pages + 2 THEN 1 + mod(slot, 3)
                 ELSE {FIRST_TAIL_KIND} + slot - 3 * s.pages - 3
             END AS kind
         ) AS what
    WHERE CASE kind {emitted_case} ELSE true END
    LIMIT %(limit)s
    """


def hours_weighted(*, end: datetime, days: int) -> dict:
    """The session-start distribution: the hours from `days` days before `end` to the one
    that ends an hour before it (so every session ends before `end`), weighted by
    events.demo's hour-of-day and weekday weights, as the lower bound (cumulative share)
    and width (share) of each hour in [0, 1)."""
    from events.demo import HOUR_WEIGHTS, WEEKDAY_WEIGHTS

    first = end - timedelta(days=days)
    hours = [first + timedelta(hours=h) for h in range(days * 24 - 1)]
    weights = [HOUR_WEIGHTS[hour.hour] * WEEKDAY_WEIGHTS[hour.weekday()] for hour in hours]
    total = sum(weights)
    lower, running = [], 0
    for weight in weights:
        lower.append(running / total)
        running += weight
    return {"first_hour": first, "lower": lower, "width": [w / total for w in weights]}
