"""The many-event policy (gateway.batch_policy.decide), called directly: no server, no log."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.batch_policy import decide
from gateway.errors import InvalidEvent


def bad(index: int, code: str = "invalid_event", status: int = 400) -> tuple[InvalidEvent, dict[str, Any]]:
    error = InvalidEvent(f"problem {index}", field="event", code=code)
    error.status = status
    return error, {"index": index, "code": code, "message": error.message, "field": f"batch[{index}].event"}


def call(failures: list[tuple[InvalidEvent, dict[str, Any]]], **kwargs: Any) -> Any:
    return decide([e for e, _ in failures], [a for _, a in failures], **kwargs)


@pytest.mark.parametrize("atomic", [False, True])
@pytest.mark.parametrize("many", [False, True])
def test_no_error_commits(many: bool, atomic: bool) -> None:
    assert call([], many=many, items=3, valid=3, atomic=atomic) == (True, None)


def test_no_error_and_nothing_left_after_transforms_is_still_a_success() -> None:
    assert call([], many=True, items=2, valid=0, atomic=False) == (True, None)


def test_partial_commits_the_valid_ones_and_answers_200() -> None:
    assert call([bad(1)], many=True, items=3, valid=2, atomic=False) == (True, None)


def test_atomic_refuses_the_whole_request_naming_every_rejection() -> None:
    commit, error = call([bad(1), bad(4)], many=True, items=5, valid=3, atomic=True, path="batch")
    assert commit is False and isinstance(error, InvalidEvent)
    assert error.status == 400 and error.code == "invalid_event"
    assert error.message == "2 of 5 events are invalid; the first, batch[1]: problem 1"
    assert [a["index"] for a in error.detail["rejected"]] == [1, 4]


def test_partial_with_no_valid_event_is_refused() -> None:
    commit, error = call([bad(0), bad(1)], many=True, items=2, valid=0, atomic=False)
    assert commit is False and error is not None and error.status == 400


def test_mixed_codes_say_invalid_events_and_all_413_stays_413() -> None:
    _, mixed = call([bad(0), bad(1, code="event_too_large", status=413)], many=True, items=2, valid=0,
                    atomic=False)
    assert mixed is not None and (mixed.code, mixed.status) == ("invalid_events", 400)
    _, big = call([bad(0, "event_too_large", 413), bad(1, "event_too_large", 413)], many=True, items=2,
                  valid=0, atomic=True)
    assert big is not None and (big.code, big.status) == ("event_too_large", 413)


def test_a_single_event_answers_with_its_own_error_and_field() -> None:
    failure = bad(0)
    given = (failure[0].message, failure[0].detail, failure[0].status)
    commit, error = call([failure], many=False, items=1, valid=0, atomic=False)
    assert commit is False and error is not None
    assert (error.message, error.code, error.field, error.detail) == ("problem 0", "invalid_event", "event",
                                                                    failure[1])
    assert error is not failure[0]  # pure: the error it was given is left as it was
    assert (failure[0].message, failure[0].detail, failure[0].status) == given
