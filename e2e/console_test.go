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

// signIn opens the console in ctx and signs in as name.
func signIn(t *testing.T, ctx context.Context, url, name string) {
	t.Helper()
	within(t, ctx, 30*time.Second, "open the console", chromedp.Navigate(url+"/console/"))
	waitJS(t, ctx, "the sign-in form", `!document.getElementById('login').hidden && document.activeElement === document.getElementById('login-name')`)
	within(t, ctx, 10*time.Second, "sign in",
		chromedp.SendKeys(chromedp.ID("login-name"), name),
		chromedp.SendKeys(chromedp.ID("login-password"), operatorPassword),
		chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)))
	waitJS(t, ctx, "the console", `!document.getElementById('app').hidden && document.getElementById('me').textContent === `+jsString(name))
	if eval[bool](t, ctx, `document.cookie.includes('shopassist_console')`) {
		t.Error("the session cookie is readable from JavaScript; it must be HttpOnly")
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
// in, the operator finds a conversation by a word the shopper typed, and
// only that one.
func TestConsoleSearch(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t, envOptions{})
	kettle := chatAs(t, e, "do you sell a turquoise kettle")
	chatAs(t, e, "usb cable")

	viewport(t, ctx, 375, 740)
	within(t, ctx, 30*time.Second, "open the console", chromedp.Navigate(e.url+"/console/"))
	waitJS(t, ctx, "the sign-in form", `!document.getElementById('login').hidden`)
	within(t, ctx, 10*time.Second, "sign in with a wrong password",
		chromedp.SendKeys(chromedp.ID("login-name"), "Sam"),
		chromedp.SendKeys(chromedp.ID("login-password"), "not the password"),
		chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)))
	waitJS(t, ctx, "the refusal", `document.getElementById('login-error').textContent === 'Wrong password.'`)
	shot(t, ctx, "console-login-phone", 375, 740)

	signIn(t, ctx, e.url, "Sam")
	waitJS(t, ctx, "both conversations", `document.querySelectorAll('#sessions button').length === 2`)
	within(t, ctx, 10*time.Second, "search", chromedp.SendKeys(chromedp.ID("search"), "Turquoise"))
	waitJS(t, ctx, "one result", `document.querySelectorAll('#sessions button').length === 1`)
	if got := listed(t, ctx); got[0] != kettle {
		t.Fatalf("search for a word the shopper typed lists %v, want %s", got, kettle)
	}
	shot(t, ctx, "console-search-phone", 375, 740)
	eval[bool](t, ctx, `(document.getElementById('search').value = '') === ''`)
	within(t, ctx, 10*time.Second, "search for something nobody said", chromedp.SendKeys(chromedp.ID("search"), "zebra"))
	waitJS(t, ctx, "no result", `document.querySelectorAll('#sessions button').length === 0 && document.getElementById('list-summary').textContent.includes('zebra')`)
}
