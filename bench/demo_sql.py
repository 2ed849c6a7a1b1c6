"""Demo-shaped events written by the database itself: the SQL behind bench/bulk_load.py.

What the query part measures is reads on a table of a given size and shape, not how the
table was filled, so the server makes the rows instead of Python: every pseudo-random
choice is a hash of (seed, session number, slot, purpose) with the built-in
hashint8extended, so the same seed gives the same rows, in any number of workers. The
shapes follow events.demo (the generator of `make demo`): a session starts with a log-in
or a landing pageview, visits 1 to 12 pages (a pageview, maybe a scroll and a CTA click on
each), maybe fills the sign-up form and buys, rarely hits a JS error; an event every ~25 s;
the same categories, names and `data` keys (host, browser, country, referrer, path, ...);
session starts spread over the last `days` days with the demo's hour-of-day and weekday
weights.
"""

from datetime import datetime, timedelta

# Slots of a session, in time order: 0 is the entry (log in or the landing pageview);
# page i (1..pages) has slots 3i-2, 3i-1 and 3i for its pageview, scroll and CTA click;
# the TAIL slots follow the last page. A slot becomes an event if its draw says so.
MAX_PAGES = 12
TAIL = (
    ("form interaction", "form start"),
    ("form interaction", "validation error"),
    ("form interaction", "submit"),
    ("account", "sign up"),
    ("commerce", "add to cart"),
    ("commerce", "checkout"),
    ("commerce", "purchase"),
    ("errors", "js error"),
)
# What a slot is, by the kind number the query gives it (an index into KINDS).
KINDS = (
    ("account", "log in"),
    ("page interaction", "pageview"),  # the landing page, always "/"
    ("page interaction", "pageview"),
    ("page interaction", "scroll"),
    ("page interaction", "cta click"),
    *TAIL,
)
FIRST_TAIL_KIND = 5
# Slots sit 15 s apart (plus a random offset within the slot), and about half of them
# become events, so sessions last as long as events.demo's (an event every ~25 s); the
# longest (45 slots) fits in 12 minutes, so a session started an hour before `end` ends
# before it, as every demo event does.
SLOT_SECONDS = 15
# What each draw decides. Each purpose has its own hash seed (seed * 64 + purpose) and
# each draw of a session hashes k * 64 + slot (a session has at most 45 slots), so no two
# draws of a load hash the same input with the same seed.
(
    START,
    PAGES,
    LOGIN,
    HOST,
    BROWSER,
    COUNTRY,
    REFERRER,
    FORM,
    INVALID,
    SUBMIT,
    CART,
    CHECKOUT,
    PURCHASE,
    JS_ERROR,
    FIELD,
    PLAN,
    PRODUCT,
    PRICE,
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
) = range(29)
MASK_53 = (1 << 53) - 1
# UUID version 4 and RFC 4122 variant bits, as events.demo's uuid.UUID(version=4) sets.
VERSION_CLEAR, VERSION_SET = ~(0xF << 12), 4 << 12
VARIANT_CLEAR, VARIANT_SET = (1 << 62) - 1, -(1 << 63)


def _literal(values: list[str] | tuple[str, ...]) -> str:
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"ARRAY[{quoted}]::text[]"


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

    form = f"{draw(FORM)} < 0.2"
    submit = f"{form} AND {draw(SUBMIT)} < 0.7"
    cart = f"{draw(CART)} < 0.15"
    checkout = f"{cart} AND {draw(CHECKOUT)} < 0.5"
    context = ", ".join(
        f"'{key}', {_pick(seed, purpose, _literal(values), len(values))}"
        for key, purpose, values in (
            ("host", HOST, demo.HOSTS),
            ("browser", BROWSER, demo.BROWSERS),
            ("country", COUNTRY, demo.COUNTRIES),
            ("referrer", REFERRER, demo.REFERRERS),
        )
    )
    return f"""
    SELECT k,
           {_uuid(seed, SESSION_ID_HIGH, SESSION_ID_LOW, "k * 64")} AS session_id,
           %(first_hour)s::timestamptz
               + (hour - 1 + (u - (%(lower)s::float8[])[hour]) / (%(width)s::float8[])[hour])
               * interval '1 hour' AS start,
           1 + floor({draw(PAGES)} * {MAX_PAGES})::int AS pages,
           {draw(LOGIN)} < 0.25 AS login,
           jsonb_build_object({context}) AS context,
           {form} AS form,
           {form} AND {draw(INVALID)} < 0.3 AS invalid,
           {submit} AS submit,
           {cart} AS cart,
           {checkout} AS checkout,
           {checkout} AND {draw(PURCHASE)} < 0.8 AS purchase,
           {draw(JS_ERROR)} < 0.03 AS js_error,
           {_pick(seed, FIELD, _literal(("email", "password")), 2)} AS field,
           {_pick(seed, PLAN, _literal(("free", "pro")), 2)} AS plan,
           {_pick(seed, PRODUCT, _literal(("lamp", "chair", "desk", "rug")), 4)} AS product,
           {_pick(seed, PRICE, "ARRAY[19.0, 49.0, 129.0, 349.0]", 4)} AS price
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
    page_key = "s.k * 64 + (slot + 2) / 3"

    def draw(purpose: int, key: str = slot_key) -> str:
        return _draw(seed, purpose, key)

    path = _pick(seed, PATH, _literal(demo.PATHS), len(demo.PATHS), page_key)
    element = _pick(seed, ELEMENT, _literal(demo.ELEMENTS), len(demo.ELEMENTS), slot_key)
    error_path = _pick(seed, ERROR_PATH, _literal(demo.PATHS), len(demo.PATHS), slot_key)
    depth = _pick(seed, DEPTH, "ARRAY[25, 50, 75, 100]", 4, slot_key)
    data = {
        0: "'{}'::jsonb",
        1: """'{"path": "/"}'::jsonb""",
        2: f"jsonb_build_object('path', {path})",
        3: f"jsonb_build_object('path', {path}, 'depth', {depth})",
        4: f"jsonb_build_object('path', {path}, 'element', {element})",
        5: """'{"form": "signup"}'::jsonb""",
        6: """jsonb_build_object('form', 'signup', 'field', s.field)""",
        7: """'{"form": "signup", "fields": ["first_name", "last_name", "email"]}'::jsonb""",
        8: "jsonb_build_object('plan', s.plan)",
        9: "jsonb_build_object('product', s.product, 'price', s.price)",
        10: """'{"path": "/checkout", "items": 1}'::jsonb""",
        11: "jsonb_build_object('product', s.product, 'price', s.price, 'currency', 'EUR')",
        12: f"""jsonb_build_object('message', 'TypeError: x is undefined', 'path', {error_path})""",
    }
    emitted = {
        3: f"{draw(SCROLL)} < 0.5",
        4: f"{draw(CTA)} < 0.3",
        5: "s.form",
        6: "s.invalid",
        7: "s.submit",
        8: "s.submit",
        9: "s.cart",
        10: "s.checkout",
        11: "s.purchase",
        12: "s.js_error",
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
         generate_series(0, 3 * s.pages + {len(TAIL)}) AS slot,
         LATERAL (
             SELECT CASE
                 WHEN slot = 0 THEN CASE WHEN s.login THEN 0 ELSE 1 END
                 WHEN slot <= 3 * s.pages THEN 2 + mod(slot - 1, 3)
                 ELSE {FIRST_TAIL_KIND} + slot - 3 * s.pages - 1
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
