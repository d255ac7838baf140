"""The page a refused reader sees, and the style that hides what readers may not use."""

from __future__ import annotations

import html

DENIED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not available to you</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:4em auto;color:#222}}
h1{{color:#a40000}} code{{background:#eee;padding:0 .3em}}</style></head>
<body><h1>403 — not available to you</h1>
<p>{reason}.</p>
<p>The reading gateway lets each radiologist open only the projects and tasks of their own assignments,
as the campaign's reading scheme allows. This attempt was recorded in the audit log.</p>
<p>Requested: <code>{method} {uri}</code></p>
<p><a href="/projects/">Back to your projects</a></p></body></html>
"""

# Label Studio CE shows every member the buttons of an administrator; the gateway refuses what they lead to and
# hides them from readers. Selectors are those of Label Studio 1.23's pages.
READER_CSS = """
a[href$="/settings"], a[href*="/settings/"], a[href^="/organization"], a[href^="/people"],
button[data-testid="create-project-button"], .ls-menu__item_href_\\/organization,
[class*="create-project"], [class*="invite"], [class*="Invite"] { display: none !important; }
"""


def denied_page(reason: str, method: str, uri: str) -> str:
    reason = reason or "this page is not part of your assignments"
    return DENIED_PAGE.format(
        reason=html.escape(reason[:1].upper() + reason[1:]), method=html.escape(method), uri=html.escape(uri[:300])
    )
