"""The dashboard's pages go compressed to browsers that take gzip; the API's answers and
streamed exports go as they are."""

import gzip

from django.urls import reverse

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


def test_a_page_goes_compressed_to_a_browser_that_takes_gzip(as_alice, known_events):
    page = reverse("dashboard:overview")

    compressed = as_alice.get(page, {"range": "30d"}, **GZIP)
    plain = as_alice.get(page, {"range": "30d"})

    assert compressed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in compressed["Vary"]
    html = gzip.decompress(compressed.content).decode()
    assert "<title>Overview" in html
    # A sixth or less of the page, whose charts' data repeats.
    assert len(compressed.content) * 4 < len(plain.content)
    assert not plain.has_header("Content-Encoding")


def test_the_api_and_a_streamed_export_go_uncompressed(as_alice, api, web_app, known_events):
    answer = api.client.get(
        "/api/event/", headers={"Authorization": f"Bearer {web_app.reader}"}, **GZIP
    )
    export = as_alice.get(reverse("dashboard:export_csv"), {"range": "30d"}, **GZIP)

    assert answer.status_code == 200
    assert not answer.has_header("Content-Encoding")
    assert answer.json()["results"]
    assert export.status_code == 200
    assert export.streaming
    assert not export.has_header("Content-Encoding")
