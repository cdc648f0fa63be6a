"""The HTTP edge: a Falcon WSGI app (routes, body reading, error rendering)."""
