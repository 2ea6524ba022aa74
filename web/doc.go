// Package web serves what a browser loads, all embedded in the binary:
//
//   - Handler: the storefront demo page at / (a search box and a product grid
//     from GET /api/search, with the chat widget) and /widget.js.
//   - ConsoleHandler: the operator console at /console/ and its sign-in
//     (POST /console/login, POST /console/logout, GET /console/session),
//     guarded by an OperatorAuth.
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
// Pages carry a Content-Security-Policy allowing scripts, styles and
// connections only from this server (images from anywhere), nosniff and
// same-origin referrers; assets are served from memory with an ETag and,
// when the client accepts it, gzipped. Handler and ConsoleHandler are safe
// for concurrent use.
//
// # Operator sign-in
//
// OperatorAuth (auth.go) is the interim sign-in of the console: one shared
// operator password (no default; NewOperatorAuth refuses an empty one), a
// display name per operator, server-side sessions behind an HttpOnly,
// SameSite=Strict cookie, and a CSRF token required in the X-CSRF-Token
// header on every state-changing request. Its Authorize method is the
// chat.Config.OperatorAuth hook of the operator API.
package web
