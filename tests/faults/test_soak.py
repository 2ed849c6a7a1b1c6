"""A short soak: mixed load with a fault every few seconds (a worker killed, the database
stopped, Redis restarted), ending with accepted = stored and no duplicates. The long one
is `python -m bench.soak`."""

import pytest

from bench.soak import Soak

# It starts an Eye on a database of its own, so either pass of `make test` runs the same test.
pytestmark = pytest.mark.own_database


def test_it_stores_every_accepted_event_once_through_faults(tmp_path):
    soak = Soak(tmp_path)
    try:
        result = soak.run(seconds=36, fault_every=10, clients=3)
    finally:
        soak.close()

    assert len(result.faults) == 3
    assert result.accepted > 100
    assert result.stored == result.accepted
    assert result.distinct_stored == result.stored
