"""What a hardened loader refuses: a secret-looking name (``password``, ``api_key``, ``X-Api-Key``,
``csrf_token`` ...) with a fixed value in a header, a JSON body, a form body, a query string or variables."""

from urllib.parse import parse_qsl, urlsplit

from include.perfpipe.loadtest.http.credentials import looks_secret


def fixed_secrets(node, where: str = "") -> list[str]:
    """The places, in a loaded scenario mapping, where a secret-looking name has a value no template gives."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key}".lstrip(".")
            if key in ("extract", "checks", "feeders"):
                continue  # extraction rules and file names, not values sent
            if key == "path" and isinstance(value, str):
                pairs = parse_qsl(urlsplit(value).query)
            elif key == "body" and isinstance(value, str):
                pairs = parse_qsl(value)
            else:
                pairs = []
            found += [f"{here}: {name}" for name, text in pairs if looks_secret(name) and "{{" not in text]
            if looks_secret(str(key)) and isinstance(value, (str, int)) and "{{" not in str(value):
                found.append(here)
            found += fixed_secrets(value, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += fixed_secrets(item, f"{where}[{i}]")
    return found
