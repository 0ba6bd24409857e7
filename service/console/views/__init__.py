"""Console views: each reads a form, calls one dialer service function, renders a page."""
