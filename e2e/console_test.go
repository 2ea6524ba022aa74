package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/shopassist/shopassist/chat"
	"github.com/shopassist/shopassist/sessions"
)

// chatAs opens a WebSocket as a shopper without a browser, sends text and
// waits for the turn to end; it returns the session id.
func chatAs(t *testing.T, e *env, texts ...string) string {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.url, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var id string
	for i, text := range texts {
		if err := ws.WriteJSON(map[string]string{"type": "message", "id": "m" + string(rune('a'+i)), "text": text}); err != nil {
			t.Fatal(err)
		}
		for {
			_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
			var f chat.ServerFrame
			if err := ws.ReadJSON(&f); err != nil {
				t.Fatalf("read: %v", err)
			}
			if f.Type == chat.TypeSession {
				id = f.SessionID
			}
			if f.Type == chat.TypeError {
				t.Fatalf("error frame %+v", f)
			}
			if f.Type == chat.TypeDone {
				break
			}
		}
	}
	return id
}

// roles are the roles of the test accounts (see operatorAccounts).
var roles = map[string]string{"Ada": "admin", "Alex": "agent", "Sam": "viewer"}

// visible reports whether the element with id is shown (neither it nor an
// ancestor hidden).
func visible(t *testing.T, ctx context.Context, id string) bool {
	t.Helper()
	return eval[bool](t, ctx, `(() => { const e = document.getElementById(`+jsString(id)+`); return !!e && e.offsetParent !== null; })()`)
}

// signIn opens the console in ctx and signs in as name; the console shows
// the account's role and offers what the role may do, and no more.
func signIn(t *testing.T, ctx context.Context, url, name string) {
	t.Helper()
	within(t, ctx, 30*time.Second, "open the console", chromedp.Navigate(url+"/console/"))
	waitJS(t, ctx, "the sign-in form", `!document.getElementById('login').hidden && document.activeElement === document.getElementById('login-name')`)
	signInHere(t, ctx, name)
}

// signInHere fills in the sign-in form on screen (after a sign-out, it
// still holds the last name).
func signInHere(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	waitJS(t, ctx, "the sign-in form", `!document.getElementById('login').hidden`)
	eval[bool](t, ctx, `(document.getElementById('login-name').value = document.getElementById('login-password').value = '') === ''`)
	within(t, ctx, 10*time.Second, "sign in",
		chromedp.SendKeys(chromedp.ID("login-name"), name),
		chromedp.SendKeys(chromedp.ID("login-password"), operatorPassword),
		chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)))
	waitJS(t, ctx, "the console", `!document.getElementById('app').hidden && document.getElementById('me').textContent === `+jsString(name))
	if eval[bool](t, ctx, `document.cookie.includes('shopassist_console')`) {
		t.Error("the session cookie is readable from JavaScript; it must be HttpOnly")
	}
	role := roles[name]
	if got := eval[string](t, ctx, `document.getElementById('role').textContent`); got != role {
		t.Errorf("%s's role shows as %q, want %q", name, got, role)
	}
	if got := visible(t, ctx, "audit"); got != (role == "admin") {
		t.Errorf("%s (%s): audit log panel shown = %v", name, role, got)
	}
}

// checkActions checks, with a conversation open, which actions the
// console offers to a role: take over and reply for agents and admins,
// export for admins.
func checkActions(t *testing.T, ctx context.Context, role string) {
	t.Helper()
	for id, want := range map[string]bool{"takeover": role != "viewer", "reply": role != "viewer", "readonly": role == "viewer", "export": role == "admin"} {
		if got := visible(t, ctx, id); got != want {
			t.Errorf("%s: #%s shown = %v, want %v", role, id, got, want)
		}
	}
}

// listed returns the conversation ids in the console's list, in order.
func listed(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#sessions button'), b => b.dataset.id)`)
}

// TestOperatorTakesOver: a shopper asks for a person; an operator, in a
// second browser context (its own cookies and storage), signs in, sees the
// conversation waiting at the top of the list, takes it over and replies;
// the shopper sees the handoff and the operator's message, live. Handing
// back is announced to the shopper too.
func TestOperatorTakesOver(t *testing.T) {
	shopper := newBrowser(t)
	e := newEnv(t, envOptions{requireIntents: true})
	viewport(t, shopper, 1280, 800)
	openWidget(t, shopper, e.url)
	ask(t, shopper, "bluetooth speaker")
	waitAnswers(t, shopper, 1)
	within(t, shopper, 10*time.Second, "rate the answer", chromedp.Click(chromedp.JSPath(shadow+`.querySelector('.msg.bot .fb button[aria-label="Helpful"]')`)))
	if got := eval[string](t, shopper, shadow+`.querySelector('.msg.bot .fb button[aria-label="Helpful"]').getAttribute('aria-pressed')`); got != "true" {
		t.Errorf("thumbs up aria-pressed=%q after the click", got)
	}
	ask(t, shopper, "I want to talk to a real person")
	waitJS(t, shopper, "the handoff notice", shadow+`.querySelector('.log .notice') !== null`)
	sess := eval[string](t, shopper, `localStorage.getItem('shopassist:ws://' + location.host + '/ws')`)
	// Another shopper talks later: the list must still show the waiting one first.
	other := chatAs(t, e, "usb cable")

	operator := newIncognitoTab(t, shopper)
	viewport(t, operator, 1280, 800)
	signIn(t, operator, e.url, "Alex")
	waitJS(t, operator, "both conversations listed", `document.querySelectorAll('#sessions button').length === 2`)
	if got := listed(t, operator); got[0] != sess || got[1] != other {
		t.Fatalf("list %v, want the waiting %s first, then %s", got, sess, other)
	}
	if !eval[bool](t, operator, `document.querySelector('#sessions button .badge').classList.contains('handoff_pending')`) {
		t.Error("the waiting conversation is not marked as waiting")
	}

	within(t, operator, 10*time.Second, "open the conversation", chromedp.Click(chromedp.CSS(`#sessions button[data-id="`+sess+`"]`)))
	waitJS(t, operator, "the transcript", `document.getElementById('transcript').textContent.includes('I want to talk to a real person')`)
	checkActions(t, operator, "agent")
	// The shopper's thumbs up is on the first answer.
	if got := eval[string](t, operator, `(document.querySelector('#transcript .turn.bot .tag.up') || {}).textContent || ''`); got != "rated helpful" {
		t.Errorf("the operator does not see the shopper's rating (got %q)", got)
	}
	within(t, operator, 10*time.Second, "take over", chromedp.Click(chromedp.ID("takeover")))
	waitJS(t, operator, "the reply box", `!document.getElementById('reply-text').disabled && document.activeElement === document.getElementById('reply-text')`)
	waitJS(t, shopper, "the shopper told a person is here", shadow+`.querySelector('.st').textContent.includes('our team')`)

	const reply = "Hi, I'm Alex from the shop. Which speaker are you looking at?"
	within(t, operator, 10*time.Second, "reply", chromedp.SendKeys(chromedp.ID("reply-text"), reply), enter)
	waitJS(t, shopper, "the operator's message", `Array.from(`+shadow+`.querySelectorAll('.msg.agent .bubble'), b => b.textContent).includes(`+jsString(reply)+`)`)
	waitJS(t, operator, "the reply in the transcript", `Array.from(document.querySelectorAll('#transcript .turn.agent .text'), b => b.textContent).includes(`+jsString(reply)+`)`)

	turns, err := e.store.History(context.Background(), sess, 0)
	if err != nil {
		t.Fatal(err)
	}
	if last := turns[len(turns)-1]; last.Role != sessions.RoleAgent || last.Text != reply {
		t.Errorf("last stored turn %+v, want the operator's reply", last)
	}
	s := screen(t, shopper)
	seen := map[string]bool{}
	for _, m := range s.Messages {
		if m.ID != "" && seen[m.ID] {
			t.Errorf("message %s shown twice", m.ID)
		}
		seen[m.ID] = true
	}

	shot(t, shopper, "widget-agent-desktop", 1280, 800)
	shot(t, shopper, "widget-agent-phone", 375, 740)
	shot(t, operator, "console-desktop", 1280, 800)
	shot(t, operator, "console-phone", 375, 740)
	viewport(t, operator, 1280, 800)

	within(t, operator, 10*time.Second, "hand back", chromedp.Click(chromedp.ID("handback")))
	waitJS(t, shopper, "the shopper told the assistant is back", shadow+`.querySelector('.st').textContent === 'Online'`)
	waitJS(t, operator, "the reply box closed", `document.getElementById('reply-text').disabled`)
}

// TestConsoleSearch: a wrong password is refused in plain words; signed
// in, a viewer finds a conversation by a word the shopper typed, and only
// that one, can read it but is offered no takeover; personal data was
// redacted before it was stored, so searching for it finds nothing. An
// admin then sees the redacted message, reads its original (which the
// audit log records) and reads the audit log in the console.
func TestConsoleSearch(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t, envOptions{})
	kettle := chatAs(t, e, "do you sell a turquoise kettle")
	chatAs(t, e, "usb cable")
	const email = "jane.doe@example.com"
	mail := chatAs(t, e, "can you mail the invoice to "+email)

	viewport(t, ctx, 375, 740)
	within(t, ctx, 30*time.Second, "open the console", chromedp.Navigate(e.url+"/console/"))
	waitJS(t, ctx, "the sign-in form", `!document.getElementById('login').hidden`)
	within(t, ctx, 10*time.Second, "sign in with a wrong password",
		chromedp.SendKeys(chromedp.ID("login-name"), "Sam"),
		chromedp.SendKeys(chromedp.ID("login-password"), "not the password"),
		chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)))
	waitJS(t, ctx, "the refusal", `document.getElementById('login-error').textContent === 'Wrong name or password.'`)
	shot(t, ctx, "console-login-phone", 375, 740)

	signIn(t, ctx, e.url, "Sam")
	waitJS(t, ctx, "all three conversations", `document.querySelectorAll('#sessions button').length === 3`)
	within(t, ctx, 10*time.Second, "search", chromedp.SendKeys(chromedp.ID("search"), "Turquoise"))
	waitJS(t, ctx, "one result", `document.querySelectorAll('#sessions button').length === 1`)
	if got := listed(t, ctx); got[0] != kettle {
		t.Fatalf("search for a word the shopper typed lists %v, want %s", got, kettle)
	}
	shot(t, ctx, "console-search-phone", 375, 740)
	for _, q := range []string{"zebra", "jane.doe"} {
		eval[bool](t, ctx, `(document.getElementById('search').value = '') === ''`)
		within(t, ctx, 10*time.Second, "search for "+q, chromedp.SendKeys(chromedp.ID("search"), q))
		waitJS(t, ctx, "no result for "+q, `document.querySelectorAll('#sessions button').length === 0 && document.getElementById('list-summary').textContent.includes(`+jsString(q)+`)`)
	}
	eval[bool](t, ctx, `(document.getElementById('search').value = '') === ''`)
	within(t, ctx, 10*time.Second, "list all", chromedp.SendKeys(chromedp.ID("search"), " "))
	waitJS(t, ctx, "all three conversations", `document.querySelectorAll('#sessions button').length === 3`)
	viewport(t, ctx, 1280, 800)
	within(t, ctx, 10*time.Second, "open the conversation", chromedp.Click(chromedp.CSS(`#sessions button[data-id="`+mail+`"]`)))
	waitJS(t, ctx, "the redacted transcript", `document.getElementById('transcript').textContent.includes('mail the invoice to [email]')`)
	checkActions(t, ctx, "viewer")
	if eval[bool](t, ctx, `document.getElementById('transcript').textContent.includes(`+jsString(email)+`) || document.querySelector('.show-orig') !== null`) {
		t.Error("a viewer sees the e-mail address or a way to it")
	}

	// An admin reads the original, and the audit log says so.
	within(t, ctx, 10*time.Second, "sign out", chromedp.Click(chromedp.ID("logout")))
	signInHere(t, ctx, "Ada")
	within(t, ctx, 10*time.Second, "open the conversation", chromedp.Click(chromedp.CSS(`#sessions button[data-id="`+mail+`"]`)))
	waitJS(t, ctx, "the redacted transcript", `document.getElementById('transcript').textContent.includes('mail the invoice to [email]')`)
	checkActions(t, ctx, "admin")
	within(t, ctx, 10*time.Second, "show the original", chromedp.Click(chromedp.CSS(`#transcript .show-orig`)))
	waitJS(t, ctx, "the original", `(document.querySelector('#transcript .orig') || {}).textContent === `+jsString("can you mail the invoice to "+email))
	within(t, ctx, 10*time.Second, "load the audit log", chromedp.Click(chromedp.ID("audit-load")))
	waitJS(t, ctx, "the audit log", `Array.from(document.querySelectorAll('#audit-list li'), li => li.dataset.action + ' ' + li.textContent).some(s => s.startsWith('view_original Ada (admin)'))`)
	shot(t, ctx, "console-admin-desktop", 1280, 800)
	recs, err := e.audit.Recent(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.Operator+" "+string(r.Action)+" "+string(r.Outcome)]++
	}
	for _, want := range []string{"Sam sign_in ok", "Sam view_transcript ok", "Sam sign_out ok", "Ada sign_in ok", "Ada view_transcript ok", "Ada view_original ok", "Ada view_audit ok", "Sam sign_in failed"} {
		if seen[want] != 1 {
			t.Errorf("audit log: %d × %q, want 1 (all: %v)", seen[want], want, seen)
		}
	}
}
