"""ovserve.server.worker_roll: replacing the HTTP workers for a plan they leave, from their reports."""

import signal

import pytest

from ovserve.server import worker_roll as worker_roll_module
from ovserve.server.live_plan import WorkerReport
from ovserve.server.worker_roll import WorkerRoll

MASTER = 100
PUBLISHED = 3  # the generation of the plan published last


class SentSignals(list):
    def __call__(self, pid, signum):
        assert pid == MASTER
        self.append(signum)


@pytest.fixture(autouse=True)
def listeners_close_at_once(monkeypatch):
    monkeypatch.setattr(worker_roll_module, "LISTENER_CLOSE_SECONDS", 0)


def roll():
    signals = SentSignals()
    return WorkerRoll(MASTER, send_signal=signals), signals


def test_nothing_happens_while_every_worker_takes_the_plan_in_place():
    worker_roll, signals = roll()
    worker_roll.advance([WorkerReport(1, 3), WorkerReport(2, 3)], PUBLISHED)
    assert signals == [] and not worker_roll.under_way


TTIN, TTOU = signal.SIGTTIN, signal.SIGTTOU


def test_every_leaving_worker_gets_a_fresh_successor_before_the_oldest_ones_stop():
    worker_roll, signals = roll()
    leaving = [WorkerReport(1, 2, replace_for=3), WorkerReport(2, 2, replace_for=3)]
    worker_roll.advance(leaving, PUBLISHED)
    worker_roll.advance(leaving, PUBLISHED)
    assert signals == [TTIN, TTIN] and worker_roll.under_way  # one a turn: signals sent together would merge
    worker_roll.advance(leaving, PUBLISHED)  # the fresh workers are still loading: nothing more
    worker_roll.advance([*leaving, WorkerReport(3, 3), WorkerReport(4, 2)], PUBLISHED)  # one serves, one is behind
    assert signals == [TTIN, TTIN] and not worker_roll.successors_serve
    fresh = [WorkerReport(3, 3), WorkerReport(4, 3)]
    worker_roll.advance([*leaving, *fresh], PUBLISHED)
    assert signals == [TTIN, TTIN, TTOU] and not worker_roll.successors_serve  # gunicorn stops its oldest
    worker_roll.advance([*leaving, *fresh], PUBLISHED)
    assert signals == [TTIN, TTIN, TTOU, TTOU] and worker_roll.successors_serve
    worker_roll.advance([*leaving, *fresh], PUBLISHED)  # the old ones, still finishing their requests: nothing again
    assert len(signals) == 4


def test_a_worker_that_took_the_plan_in_place_is_not_taken_for_a_successor():
    worker_roll, signals = roll()
    reports = [WorkerReport(1, 2, replace_for=3), WorkerReport(2, 3)]
    worker_roll.advance(reports, PUBLISHED)
    worker_roll.advance(reports, PUBLISHED)
    assert signals == [TTIN]  # worker 2 served generation 3 before the fresh one was asked for
    worker_roll.advance([*reports, WorkerReport(5, 3)], PUBLISHED)
    assert signals == [TTIN, TTOU]


def test_successors_serve_the_latest_generation_a_worker_left():
    worker_roll, signals = roll()
    worker_roll.advance([WorkerReport(1, 2, replace_for=3)], PUBLISHED)
    worker_roll.advance([WorkerReport(1, 2, replace_for=4), WorkerReport(6, 3)], PUBLISHED)
    assert signals == [TTIN]  # generation 4 came meanwhile: 3 is not enough
    worker_roll.advance([WorkerReport(1, 2, replace_for=4), WorkerReport(6, 4)], PUBLISHED)
    assert signals == [TTIN, TTOU]


def test_a_worker_leaving_during_a_replacement_gets_its_successor_after_it(monkeypatch):
    monkeypatch.setattr(worker_roll_module, "DECISION_WAIT_SECONDS", 0)  # worker 2 decides too late for the first
    worker_roll, signals = roll()
    worker_roll.advance([WorkerReport(1, 2, replace_for=3), WorkerReport(2, 2)], PUBLISHED)
    assert signals == [TTIN]
    both = [WorkerReport(1, 2, replace_for=3), WorkerReport(2, 2, replace_for=3), WorkerReport(3, 3)]
    worker_roll.advance(both, PUBLISHED)
    assert signals == [TTIN, TTOU] and not worker_roll.successors_serve  # worker 2 has none yet
    worker_roll.advance(both, PUBLISHED)
    assert signals == [TTIN, TTOU, TTIN]
    worker_roll.advance([*both, WorkerReport(4, 3)], PUBLISHED)
    assert signals == [TTIN, TTOU, TTIN, TTOU] and worker_roll.successors_serve


def test_the_first_worker_to_leave_waits_for_the_others_to_decide_so_that_one_batch_replaces_all():
    worker_roll, signals = roll()
    worker_roll.advance([WorkerReport(1, 2, replace_for=3), WorkerReport(2, 2)], PUBLISHED)
    assert signals == []  # worker 2 has not read the plan yet
    worker_roll.advance([WorkerReport(1, 2, replace_for=3), WorkerReport(2, 2, replace_for=3)], PUBLISHED)
    assert signals == [TTIN] and worker_roll.batch == 2
