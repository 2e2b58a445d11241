"""The engine's clients, what a VU sends: flat endpoints (``endpoints``, the fast path), journeys (``journeys``:
YAML steps or a Python function, the scenario language of ``loadtest/journey/``) and named scenarios
(``scenarios``), all over ``http_generator.HttpGenerator``; ``choice.HttpClients`` picks one for a spec. The
DB query client is ``database/query_client.py`` (it stays with its stage: it needs psycopg and the DB spec).
"""
