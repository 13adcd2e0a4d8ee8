"""The citizen's verify pages (`/v/<payload>`, `/verify`); implemented in `api.verify_pages`."""

from api.verify_pages import router

__all__ = ["router"]
