"""Small fakes for unit tests: a DynamoDB client answering TransactWriteItems by script; a settable clock."""

from typing import Any

from botocore.exceptions import ClientError


def cancelled(*codes: str) -> ClientError:
    """A TransactionCanceledException with one cancellation reason per transaction item."""
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": code} for code in codes],
        },
        "TransactWriteItems",
    )


class FakeDynamo:
    """Answers each transact_write_items call with the next scripted answer (raised if an exception)."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeClock:
    """A clock the test moves by hand: `clock.now_s += 5`."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s
