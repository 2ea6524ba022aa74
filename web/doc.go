// Package web serves what a browser loads, all embedded in the binary:
//
//   - Handler: the storefront demo page at / (a search box and a product grid
//     from GET /api/search, with the chat widget) and /widget.js.
//   - ConsoleHandler: the operator console at /console/ and its sign-in
//     (POST /console/login, POST /console/logout, GET /console/session),
//     guarded by an OperatorAuth with accounts and roles.
//
// # The widget
//
// static/widget.js is one vanilla JavaScript file with no dependencies and no
// build step: 27.5 KB, 9.5 KiB gzipped as served (Go's gzip at
// BestCompression: 9,698 bytes; TestWidgetSize keeps it under 12 KiB). A site
// embeds it with one tag,
//
//	<script src="https://assist.example/widget.js" data-endpoint="wss://assist.example/ws" async></script>
//
// (without data-endpoint it connects to the script's own host at /ws;
// data-user-id, data-title and data-color are optional). It builds its DOM
// in a Shadow DOM root under a <shopassist-widget> element, so the host
// page's styles neither reach it nor are touched by it, and it speaks
// protocol v1
// (docs/protocol.md): streamed tokens, product cards, quick replies,
// feedback, handoff notices, errors in plain words, and reconnection with
// exponential backoff and jitter that resumes the session (its id kept in
// localStorage), restores the history without duplicating messages on
// screen, and sends messages typed while offline once, with their stable
// client ids. Product cards shown and clicked become view and click
// behaviour events.
//
// # Pages and headers
//
// Every response of Handler and ConsoleHandler, errors included, carries a
// Content-Security-Policy (storefront: scripts, styles and connections only
// from this server, images from anywhere, framed only by itself; console:
// nothing but its own script, stylesheet, images and API, never framed),
// nosniff and no-referrer (SecurityHeaders); assets are served from
// memory with an ETag and, when the client accepts it, gzipped. Handler and
// ConsoleHandler are safe for concurrent use.
//
// # Operator sign-in
//
// OperatorAuth (auth.go) signs operators in: accounts from an accounts file
// (LoadAccounts; lines made by AccountLine and NewTokenLine) with a role
// (viewer, agent, admin) and a bcrypt-hashed password or an API token kept
// as its SHA-256, plus, while a deployment still passes one, a bootstrap
// password that signs in an admin. Console sign-ins get server-side
// sessions behind an HttpOnly, SameSite=Strict cookie and a CSRF token
// required in the X-CSRF-Token header on every state-changing request;
// token accounts send "Authorization: Bearer". Repeated failures lock the
// client address and the account name out with a growing delay; sign-ins
// and sign-outs are recorded in the audit log (package audit). Its
// Authorize method is the chat.Config.OperatorAuth hook of the operator
// API; the console hides what the signed-in role may not do.
package web
