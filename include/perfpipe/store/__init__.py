"""Results history in PostgreSQL (schema ``perfpipe``): versioned migrations and idempotent writes,
and the abort signal the shards of a run share."""

from include.perfpipe.store.abort_signal import AbortSignal
from include.perfpipe.store.results_store import STAGES, ResultsStore

__all__ = ["STAGES", "AbortSignal", "ResultsStore"]
