"""A real Huey consumer process, fed by the real API through the real Redis."""

from tests.support import SEED_EVENT, stored_events, wait_for


def test_it_stores_every_accepted_event_exactly_once(api, web_app, consumer):
    singles = [{**SEED_EVENT, "name": f"single {i}"} for i in range(20)]
    batch = [{**SEED_EVENT, "name": f"batched {i}"} for i in range(30)]
    event_ids = []
    for event in singles:
        event_ids += api.post(event, key=web_app.writer).json()["event_ids"]
    event_ids += api.post(batch, key=web_app.writer).json()["event_ids"]
    # A client retrying its batch with the ids it was given changes nothing.
    retried = [{**e, "event_id": i} for e, i in zip(batch, event_ids[20:], strict=True)]
    assert api.post(retried, key=web_app.writer).status_code == 202

    assert wait_for(lambda: len(stored_events()) >= 50, timeout=20), consumer_output(consumer)
    assert wait_for(lambda: api.get(key=web_app.reader).json()["count"] == 50)
    assert sorted(str(e["event_id"]) for e in stored_events()) == sorted(event_ids)


def consumer_output(process) -> str:
    process.terminate()
    return process.communicate(timeout=10)[0]
