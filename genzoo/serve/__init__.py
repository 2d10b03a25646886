"""`genzoo serve`: a web explorer for trained runs (FastAPI app + one static page, no build step).

- explore.py: what is drawn, pure functions from a loaded model and checked parameters to images;
- app.py: the routes, parameter declarations and limits, JSON errors, the runs a server may show;
- server.py: running the app with uvicorn (in the foreground, or in a thread for tests and benchmarks);
- static/: index.html, app.js, style.css, served by the app itself (no CDN).

FastAPI and uvicorn are the optional extra `serve` (`pip install -e '.[serve]'`); this package's
`__init__` imports neither, so `explore` works without them.
"""
