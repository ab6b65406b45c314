"""Who is asking, and may they: sign-in, API tokens, a trusted proxy, roles, and the request
guard (allowed hosts, same-origin writes, security headers).

With no way in configured the dashboard serves loopback only and everyone is an operator,
as a single DBA on a laptop expects. With any of them set, every page, API route and the
WebSocket need a signed-in user or a token; `/healthz`, `/login` and static files do not.
"""
