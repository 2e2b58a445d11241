"""Browser pages of the demo service: a newsletter form guarded by a one-time CSRF token in a hidden
input, posted as a form and answered by a redirect (post/redirect/get), and its stylesheet.

They are what a recorded browser session holds besides API calls (docs/scenarios.md, *From a
recording*); they stay out of ``/openapi.json``.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from include.demo_service.journal import Journal

_PAGE = """<!doctype html>
<html><head><title>{title}</title><link rel="stylesheet" href="/static/shop.css"></head>
<body>{body}</body></html>
"""
_FORM = """<h1>The shop's newsletter</h1>
<form method="post" action="/newsletter">
  <input type="hidden" name="csrf_token" value="{token}">
  <label>E-mail <input type="email" name="email"></label>
  <button type="submit">Subscribe</button>
</form>"""
STYLESHEET = "body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }\n"


def add_pages(app: FastAPI, journal: Journal) -> None:
    @app.get("/newsletter", include_in_schema=False)
    async def newsletter_form() -> HTMLResponse:
        return HTMLResponse(_PAGE.format(title="Newsletter", body=_FORM.format(token=journal.issue_csrf())))

    @app.post("/newsletter", include_in_schema=False)
    async def subscribe(request: Request):
        """A form post: a token this service issued and nobody used yet, else 403."""
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token, email = form.get("csrf_token", [""])[0], form.get("email", [""])[0]
        if not email or not journal.use_csrf(token):
            return PlainTextResponse("a fresh csrf_token from GET /newsletter is required", status_code=403)
        return RedirectResponse("/newsletter/thanks", status_code=303)

    @app.get("/newsletter/thanks", include_in_schema=False)
    async def subscribed() -> HTMLResponse:
        return HTMLResponse(_PAGE.format(title="Subscribed", body="<p>Thank you for subscribing.</p>"))

    @app.get("/static/shop.css", include_in_schema=False)
    async def stylesheet() -> PlainTextResponse:
        return PlainTextResponse(STYLESHEET, media_type="text/css")
