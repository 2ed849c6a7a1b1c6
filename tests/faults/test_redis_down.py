"""Redis stopped for real: POSTs answer 503 with nothing half-accepted, and posting works
again when it is back, without restarting anything."""

from tests.support import SEED_EVENT


def test_it_answers_503_while_redis_is_down_and_accepts_again_after(
    api, web_app, huey, private_redis
):
    assert api.post(SEED_EVENT, key=web_app.writer).status_code == 202

    private_redis.stop()
    refused = api.post([SEED_EVENT] * 5, key=web_app.writer)
    assert refused.status_code == 503
    assert refused.json()["success"] is False

    private_redis.start()  # an empty Redis: what it held before is gone with it
    assert api.post([SEED_EVENT] * 3, key=web_app.writer).status_code == 202
    [task] = huey.pending()
    assert len(task.args[0]) == 3  # only what was answered 202 is queued
