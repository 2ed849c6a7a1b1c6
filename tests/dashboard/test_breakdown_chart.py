"""The breakdown chart on the name and category pages and in Explore: the most frequent
values of the key picked in the URL, the rest as other, each value linked to Explore."""

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs

import pytest
from django.urls import reverse

from tests.dashboard.support import NOW


@pytest.fixture
def pageviews(put, web_app):
    for i in range(30):
        path = f"/p{i % 13}" if i % 3 else "/"
        put(
            web_app,
            NOW - timedelta(hours=1, minutes=i),
            data={"path": path, "form": {"plan": "pro"}},
        )
    put(web_app, NOW - timedelta(hours=2), data={})


def rows(html: str) -> list[tuple[str, str]]:
    table = html[html.index("data-breakdown") :]
    return re.findall(r'<td class="value-cell">(?:<a href="([^"]+)">)?([^<]+)', table)


@pytest.mark.parametrize(
    "page", [reverse("dashboard:name"), reverse("dashboard:category"), reverse("dashboard:explore")]
)
def test_it_breaks_the_kind_down_by_the_key_in_the_url(as_alice, pageviews, page):
    params = {"category": "page interaction", "name": "pageview", "by": "path", "range": "24h"}

    html = as_alice.get(page, params).content.decode()

    values = rows(html)
    assert len(values) == 10
    assert values[0][1] == "/"
    link = parse_qs(unescape(values[0][0]).split("?", 1)[1])
    assert link["key"] == ["path"] and link["value"] == ["/"]
    other = re.search(r"data-other>([\d,]+)<", html).group(1)
    # 31 events: the ten values shown, and the rest with the event without a path.
    shown = sum(
        int(n)
        for n in re.findall(
            r'</td><td class="num">(\d+)</td><td class="num">', html[html.index("data-breakdown") :]
        )[:10]
    )
    assert shown + int(other) == 31
    assert 'id="breakdown-figure"' in html


def test_it_reaches_into_objects_with_a_dotted_key(as_alice, pageviews):
    params = {"name": "pageview", "by": "form.plan", "range": "24h"}

    html = as_alice.get(reverse("dashboard:name"), params).content.decode()

    assert rows(html) == [("", "pro")]
    assert re.search(r"data-other>1<", html)


def test_it_computes_nothing_until_a_key_is_picked(as_alice, pageviews):
    html = as_alice.get(reverse("dashboard:name"), {"name": "pageview"}).content.decode()

    assert "data-breakdown" not in html
    assert '<option value="path">' in html
