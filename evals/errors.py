"""The errors `evals` raises, under one base class.

Each class has a stable `code`, the one the service shows users when it reports the error
(an API error's `code`, the CLI's), and each error may carry a `hint` saying what to do.
They stay `ValueError`s, so callers that catch `ValueError` keep working::

    ValueError
    └── EvalError           eval_error
        ├── DatasetError        invalid_dataset      a dataset file that cannot be used
        ├── UnknownMetric       unknown_metric       a metric name the registry does not know
        ├── TargetError         invalid_use_case     a use-case target that cannot be used
        ├── LanguageError       invalid_language     a language code that is not one
        ├── UnparsableVerdict   unparsable_verdict   a judge reply with no usable verdict
        └── MixedVersions       mixed_metric_versions  scores of two versions of one metric
"""

from __future__ import annotations

from typing import ClassVar


class EvalError(ValueError):
    """Base of every `evals` error: `str(error)` is the message, `hint` what to do."""

    code: ClassVar[str] = "eval_error"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class DatasetError(EvalError):
    """A dataset that cannot be read or has a bad row; the message names the line."""

    code = "invalid_dataset"


class UnknownMetric(EvalError):
    """A metric name that is not in the registry, or one whose requirements are missing."""

    code = "unknown_metric"


class TargetError(EvalError):
    """A target that cannot be used, with the reason and how to fix it. The service reports
    it as part of the use case that holds it, hence the code."""

    code = "invalid_use_case"


class LanguageError(EvalError):
    """A language given for a dataset row or a use case that is not a language code."""

    code = "invalid_language"


class UnparsableVerdict(EvalError):
    """A judge's reply that holds no verdict in the expected shape."""

    code = "unparsable_verdict"


class MixedVersions(EvalError):
    """Scores of one metric name computed by two different versions (definitions, judges,
    embedding models): comparing or pooling them would compare different things."""

    code = "mixed_metric_versions"
