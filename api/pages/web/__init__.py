"""What every page outside the verify pages shares: language and large print, the signed-in
session, CSRF tokens, rendering with the security headers, and the console's write actions.

No `router` here: `api.main.page_routers` mounts the page modules beside this package.
"""
