"""A step's ``metrics:`` compiled: after the step, each feed turns the answer into one sample."""

from __future__ import annotations

from include.perfpipe.loadtest.journey.answer import Answer
from include.perfpipe.loadtest.journey.extract import Extractor
from include.perfpipe.loadtest.journey.metric_models import MetricFeed
from include.perfpipe.loadtest.journey.models import Extract

SKIP = object()  # no sample: the step failed (``when: ok``) or the response held no value


class FeedRule:
    __slots__ = ("metric", "model", "extractor", "always", "rate")

    def __init__(self, metric: str, model: MetricFeed, kind: str) -> None:
        self.metric, self.model, self.always, self.rate = metric, model, model.when == "always", kind == "rate"
        self.extractor = None
        if model.reads_body:
            self.extractor = Extractor(Extract(json=model.json_path, header=model.header, regex=model.regex))

    def sample(self, answer: Answer, ok: bool, duration_s: float):
        """The sample to add, or ``SKIP``; a rate with nothing found records false."""
        if not ok and not self.always:
            return SKIP
        model = self.model
        if self.extractor is not None:
            value = self.extractor.value(answer)
            if value is None:
                return False if self.rate else SKIP
            return bool(value) if self.rate else value
        if model.duration:
            return duration_s * 1000.0
        if model.ok:
            return ok
        return model.value
