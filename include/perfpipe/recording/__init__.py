"""Scenario files from what already exists: a browser's HAR recording (``from_har``) or an OpenAPI
description (``from_openapi``). Depends on the scenario models only; the load engine never imports it."""
