"""Citizen-facing HTML pages (verify pages at /v/ and /verify), owned by their own module(s).

Every module in this package that defines a module-level `router` (a FastAPI `APIRouter`) is
included by `api.main.create_app` at the site root, after the JSON API. Pages render with
`api.pages.templating.templates` (Jinja2, files under `api/pages/templates/`). Import errors are not
swallowed: a broken page module fails app start loudly.
"""
