// Package e2e holds the end-to-end tests of what a browser sees: the
// storefront page with the chat widget and the operator console, driven in
// headless Chromium (Debian's chromium, /usr/bin/chromium) with
// github.com/chromedp/chromedp against a server built in the test process
// from the real packages (chat, the demo catalogue's index, the embedded
// session store, the committed intent model, web).
//
// The tests are skipped when no Chromium is installed, unless $CI is set,
// where they fail instead; $CHROMIUM names another executable. They save
// screenshots of the widget and the console at desktop (1280×800) and phone
// (375×740) sizes into artifacts/screenshots/ at the repository root (not
// committed) for a person to look at.
//
// The package has no non-test code.
package e2e
