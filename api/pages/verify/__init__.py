"""The citizen's verify pages: `/v/<payload>` (what a phone camera opens) and `/verify`.

The verdict comes from `verifier` alone, reading the chain through the trust list; the
office name shown is the registry's, never the code's. What the chain cannot say comes from
the office database (`extras`), shown as the record's tier allows.

- `routes`: the routes (thin).
- `context`: trust list, verdict cache, slots and rate limits.
- `extras`: the database's extras and the anonymous view of them.
- `render`: the verdict page's view model and the form.
- `upload`: `POST /verify`, one path for HTML and JSON.
- `images`: the authentic page images, within the anonymous caps.
- `locale`: the words, from `api/pages/locales/<lang>.json`.
"""

from api.pages.verify.context import page_trust
from api.pages.verify.extras import Enricher, RecordExtras, database_extras
from api.pages.verify.locale import STRINGS
from api.pages.verify.routes import router

__all__ = ["STRINGS", "Enricher", "RecordExtras", "database_extras", "page_trust", "router"]
