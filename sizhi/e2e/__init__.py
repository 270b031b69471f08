"""End-to-end tests: the citizen pages and the staff console driven in headless Chromium
(Playwright) against a live test server, and the checks on the translation catalogues.

Not a Django app: no models, not in INSTALLED_APPS. Run the browser tests alone with
`.venv/bin/pytest -p no:cacheprovider -m browser sizhi/e2e`.
"""
