"""The exception hierarchy."""

import pickle

import pytest

import aiops
from aiops import (
    AiopsError,
    AiopsFileNotFoundError,
    AiopsIOError,
    InvalidInputError,
    InvalidParameterError,
    ParseError,
)


def test_hierarchy() -> None:
    assert issubclass(AiopsError, Exception)
    assert issubclass(InvalidInputError, AiopsError)
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(ParseError, InvalidInputError)
    assert issubclass(ParseError, ValueError)
    assert issubclass(InvalidParameterError, InvalidInputError)
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(AiopsIOError, AiopsError)
    assert issubclass(AiopsIOError, OSError)
    assert issubclass(AiopsFileNotFoundError, AiopsIOError)
    assert issubclass(AiopsFileNotFoundError, FileNotFoundError)
    assert not issubclass(AiopsIOError, ValueError)
    assert not issubclass(InvalidInputError, OSError)


@pytest.mark.parametrize(
    "cls",
    [AiopsError, InvalidInputError, ParseError, InvalidParameterError, AiopsIOError, AiopsFileNotFoundError],
)
def test_classes_are_documented_and_picklable(cls: type[Exception]) -> None:
    assert cls.__module__ == "aiops._aiops"
    assert cls.__doc__
    assert getattr(aiops, cls.__name__) is cls
    e = pickle.loads(pickle.dumps(cls("boom")))
    assert type(e) is cls and "boom" in str(e)


def test_raised_errors_are_catchable_by_standard_classes() -> None:
    with pytest.raises(ValueError):
        aiops.read_csv_text("timestamp,value\n1,x\n")
    with pytest.raises(AiopsError):
        aiops.RollingZScore(window=0)
    with pytest.raises(OSError):
        aiops.read_jsonl("/nonexistent/dir/file.jsonl")
