"""The `evals` error hierarchy: one base, a stable snake_case code per error (the code the
service shows users), and the unknown-metric error naming every known metric."""

from __future__ import annotations

import re

import pytest

import evals.errors
from evals.errors import DatasetError, EvalError, TargetError, UnknownMetric, UnparsableVerdict
from evals.registry import METRIC_NAMES, build_metrics

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def _subclasses(cls: type[EvalError]) -> list[type[EvalError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_eval_error_has_a_snake_case_code_of_its_own() -> None:
    errors = [EvalError, *_subclasses(EvalError)]
    assert {DatasetError, UnknownMetric, TargetError, UnparsableVerdict} <= set(errors)
    for error in errors:
        assert SNAKE_CASE.match(error.code), f"{error.__name__}.code = {error.code!r}"
        assert issubclass(error, ValueError)  # callers catching ValueError keep working
    codes = [e.code for e in errors]
    assert len(codes) == len(set(codes)), codes


def test_codes_are_the_ones_the_service_shows() -> None:
    assert DatasetError.code == "invalid_dataset"
    assert UnknownMetric.code == "unknown_metric"
    assert TargetError.code == "invalid_use_case"
    assert UnparsableVerdict.code == "unparsable_verdict"


def test_the_docstring_tree_lists_every_error_with_its_code() -> None:
    doc = evals.errors.__doc__ or ""
    for error in [EvalError, *_subclasses(EvalError)]:
        assert re.search(rf"\b{error.__name__}\s+{error.code}\b", doc), error.__name__


def test_an_error_carries_its_message_and_hint() -> None:
    plain = DatasetError("data.jsonl, line 3: no prompt")
    assert (str(plain), plain.message, plain.hint) == ("data.jsonl, line 3: no prompt",) * 2 + ("",)
    hinted = TargetError("bad target", hint="Write `rouge_l >= 0.35`.")
    assert (str(hinted), hinted.hint) == ("bad target", "Write `rouge_l >= 0.35`.")


def test_an_unknown_metric_lists_the_known_names() -> None:
    with pytest.raises(UnknownMetric) as err:
        build_metrics(["token_f1", "no_such_metric"])
    message = str(err.value)
    assert "'no_such_metric'" in message
    known = message.split("known: ", 1)[1]
    assert known.split(", ") == list(METRIC_NAMES)
    assert {"bleu", "rouge_l", "embedding_similarity", "faithfulness", "answer_relevancy"} <= set(
        METRIC_NAMES
    )
