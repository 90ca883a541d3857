"""One router per domain, mounted under /api/v1 by `rest_compat.router`."""
