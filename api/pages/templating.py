"""Shared Jinja2 templates (`api/pages/templates/`) and static files for HTML pages."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
TEMPLATE_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
"""Use as `templates.TemplateResponse(request, "verify.html", {...})`."""
# The templates ship with the code: no stat() of the file on every page to see if it changed.
templates.env.auto_reload = False
