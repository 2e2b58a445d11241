"""Results history in PostgreSQL (schema ``perfpipe``): versioned migrations and idempotent writes."""
from include.perfpipe.store.results_store import STAGES, ResultsStore

__all__ = ["STAGES", "ResultsStore"]
