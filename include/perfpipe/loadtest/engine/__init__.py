"""The generic load engine, whatever its client sends: the load generator of one part on one event loop
(``generator``: control loop, stages, loop-lag probe, drain, result), the coroutine VUs of both models
(``vus``), one shard's processes (``runner``, ``worker``), abort rules and the live guard (``abort_rules``,
``guard``), the health rules (``health``) and the live progress endpoint (``live_metrics``). A client comes
in through ``client.Client``; nothing here imports one."""
