"""The learned follow-up window of the engine loop, on synthetic timelines (seconds)."""

from ovserve.runtime.follow_ups import MAX_WINDOW_SECONDS, MIN_WINDOW_SECONDS, FollowUpWindow


def closed_loop(window, finishes, lag, step=0.1, start=0.0):
    """Clients that answer each finish `lag` s later; the loop reads them at the next step's end."""
    now = start
    for _ in range(finishes):
        window.stepped(step)
        window.finished(2, now)
        window.submitted(now + lag)
        window.submitted(now + lag + 0.001)
        now += step
        window.polled(now)
    return now


def test_no_traffic_no_window():
    assert FollowUpWindow().window() == 0.0


def test_clients_that_follow_up_turn_the_window_on_sized_to_their_lag():
    window = FollowUpWindow()
    closed_loop(window, finishes=20, lag=0.012)
    assert window.followed_share > 0.9
    assert 0.013 <= window.window() <= 0.013 * 1.25 + 0.001  # the slowest follow-up, with a margin


def test_follow_ups_read_after_a_long_step_still_count():
    # A request sent 10 ms after a finish is read only after a 1.5 s prefill step: it is a follow-up.
    window = FollowUpWindow()
    closed_loop(window, finishes=10, lag=0.010, step=1.5)
    assert window.followed_share > 0.8
    assert window.window() > 0


def test_independent_arrivals_keep_it_off():
    # Requests arrive, but long after the finishes (or before them): no waiting.
    window = FollowUpWindow()
    now = 0.0
    for _ in range(30):
        window.finished(1, now)
        window.submitted(now - 0.030)  # sent before the finish: not caused by it
        window.submitted(now + MAX_WINDOW_SECONDS + 0.020)  # too late to be a follow-up
        now += 0.2
        window.polled(now)
    assert window.followed_share < 0.1
    assert window.window() == 0.0


def test_traffic_that_stops_following_up_turns_it_off_again():
    window = FollowUpWindow()
    now = closed_loop(window, finishes=20, lag=0.005)
    assert window.window() > 0
    for _ in range(20):
        window.finished(3, now)
        now += 0.2
        window.polled(now)
    assert window.window() == 0.0


def test_window_is_bounded():
    window = FollowUpWindow()
    closed_loop(window, finishes=20, lag=0.0001)
    assert window.window() == MIN_WINDOW_SECONDS
    window = FollowUpWindow(max_window=0.03)
    closed_loop(window, finishes=20, lag=0.029)
    assert window.window() == 0.03


def test_a_finish_counts_at_most_its_own_number_of_follow_ups():
    window = FollowUpWindow()
    window.finished(1, 0.0)
    for offset in (0.001, 0.002, 0.003):
        window.submitted(offset)
    window.polled(1.0)
    assert window.followed_share == 0.2  # one of one followed, once, weighted by the smoothing


def test_expected_follow_ups_follow_the_share():
    window = FollowUpWindow()
    assert window.expected(4) == 1  # nothing learned yet: at least one
    closed_loop(window, finishes=30, lag=0.004)
    assert window.expected(4) == 4
    window.followed_share = 0.6
    assert window.expected(5) == 3
    window.followed_share = 0.5
    assert window.expected(3) == 2  # rounded up: a request left for a whole step costs more than a hold


def test_a_late_request_sent_before_a_finish_is_no_follow_up_of_it():
    # Sent 5 ms after finish A, read only after the next step, which finished B: it follows A up, and
    # a wait for B's follow-ups must go on until requests sent after B come.
    window = FollowUpWindow()
    first = window.finished(1, 1.000)
    second = window.finished(1, 1.100)
    window.submitted(1.005)
    assert (first.followed, second.followed) == (1, 0)
    window.submitted(1.108)
    assert second.followed == 1


def test_it_holds_when_the_steps_it_saves_outweigh_the_waits_it_wastes():
    # One finish in three followed up 10 ms later: worth holding ~12 ms before 300 ms prefill steps,
    # not before 5 ms steps.
    def one_in_three(step):
        window, now = FollowUpWindow(), 0.0
        for number in range(30):
            window.stepped(step)
            window.finished(1, now)
            if number % 3 == 0:
                window.submitted(now + 0.010)
            now += 0.1
            window.polled(now)
        return window

    assert 0.2 < one_in_three(0.300).followed_share < 0.45
    assert one_in_three(0.300).window() > 0
    assert one_in_three(0.005).window() == 0.0


def test_after_a_pause_a_new_session_starts_from_an_even_guess():
    window = FollowUpWindow()
    now = closed_loop(window, finishes=20, lag=0.008, step=0.3)
    for _ in range(12):  # the loop ends: its last answers are not followed up
        window.finished(2, now)
        now += 0.3
        window.polled(now)
    assert window.followed_share < 0.1 and window.window() == 0.0
    window.submitted(now + 0.5, engine_idle=True)  # too soon: the same clients, still not following up
    assert window.followed_share < 0.1
    window.submitted(now + 30.0, engine_idle=True)
    assert window.followed_share == 0.5
    assert window.window() > 0  # 0.5 x 300 ms steps saved outweigh 0.5 x 10 ms waits


def test_a_fresh_engine_holds_from_its_first_finishes_with_a_guessed_window():
    window = FollowUpWindow()
    window.submitted(100.0, engine_idle=True)  # the first request ever: an even guess
    window.stepped(0.5)
    assert 0 < window.window() <= MAX_WINDOW_SECONDS
