"""The status page's files (package data): ``index.html``, ``status.js``, ``status.css``.

Served by :mod:`lumora_fast.asyncio.http` at ``/``, ``/status.js`` and ``/status.css``;
no framework, no CDN: the page works on a machine without internet access.
"""
