"""The bundled demo target: a small FastAPI service on PostgreSQL with health, API and tool endpoints."""
