package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/shopassist/shopassist/chat"
	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/llm"
	"github.com/shopassist/shopassist/llm/llmtest"
	"github.com/shopassist/shopassist/sessions"
)

// Selectors inside the widget's shadow root.
const (
	launcherJS = shadow + `.querySelector('.launcher')`
	inputJS    = shadow + `.querySelector('textarea')`
)

// card is a product card as the widget shows it.
type card struct {
	PID    string `json:"pid"`
	Title  string `json:"title"`
	Brand  string `json:"brand"`
	Price  string `json:"price"`
	Link   string `json:"link"`
	Listed bool   `json:"listed"`
}

// onScreen is what the widget's conversation shows.
type onScreen struct {
	Messages []struct {
		ID   string `json:"id"`
		Role string `json:"role"`
		Text string `json:"text"`
	} `json:"messages"`
	Notices []string `json:"notices"`
	Status  string   `json:"status"`
	Log     struct {
		Role string `json:"role"`
		Live string `json:"live"`
	} `json:"log"`
}

const screenJS = `(() => {
	const r = ` + shadow + `, log = r.querySelector('.log');
	return {
		messages: Array.from(log.querySelectorAll('.msg'), m => ({
			id: m.dataset.id || '',
			role: m.classList.contains('me') ? 'shopper' : m.classList.contains('agent') ? 'agent' : 'bot',
			text: m.querySelector('.bubble').textContent,
		})),
		notices: Array.from(log.querySelectorAll('.notice'), n => n.textContent),
		status: r.querySelector('.st').textContent,
		log: {role: log.getAttribute('role'), live: log.getAttribute('aria-live')},
	};
})()`

func screen(t *testing.T, ctx context.Context) onScreen {
	t.Helper()
	return eval[onScreen](t, ctx, screenJS)
}

// lastCards returns the cards of the last bot answer with products.
func lastCards(t *testing.T, ctx context.Context) []card {
	t.Helper()
	return eval[[]card](t, ctx, `(() => {
		const all = `+shadow+`.querySelectorAll('.msg.bot .cards');
		if (!all.length) return [];
		return Array.from(all[all.length - 1].querySelectorAll('.card'), c => ({
			pid: c.dataset.pid,
			title: c.querySelector('.ti').textContent,
			brand: (c.querySelector('.br') || {}).textContent || '',
			price: c.querySelector('.pr').textContent,
			link: c.getAttribute('href') || '',
			listed: c.getAttribute('role') === 'listitem',
		}));
	})()`)
}

// openWidget loads the storefront and opens the chat panel with a click.
func openWidget(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	within(t, ctx, 30*time.Second, "load the storefront", chromedp.Navigate(url+"/"))
	waitJS(t, ctx, "the widget", `!!document.getElementById('shopassist-widget')`)
	within(t, ctx, 10*time.Second, "click the launcher", chromedp.Click(chromedp.JSPath(launcherJS)))
	waitJS(t, ctx, "focus in the message box", shadow+`.activeElement === `+inputJS)
}

// ask types text into the widget and presses Enter.
func ask(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	within(t, ctx, 10*time.Second, "type "+text, chromedp.SendKeys(chromedp.JSPath(inputJS), text), enter)
}

// enter presses the Enter key in the focused element as a browser does for
// a person: chromedp's "\n" adds a separate char event that would type a
// line break even when the page cancels the keydown.
var enter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		})
		if err != nil {
			return err
		}
	}
	return nil
})

// waitAnswers waits until n bot answers are final (they carry the server's
// message id) and no turn is in progress.
func waitAnswers(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	waitJS(t, ctx, "answers", shadow+`.querySelectorAll('.msg.bot[data-id]').length >= `+strconv.Itoa(n)+
		` && !`+shadow+`.querySelector('.msg.bot[aria-busy]') && `+shadow+`.querySelector('.typing').hidden`)
}

// TestShopperSeesProductCards: a shopper on the storefront opens the widget,
// asks for a bluetooth speaker with the keyboard, and sees product cards
// with title, brand and price; cards shown and clicked reach the server as
// view and click events; the panel fills a phone screen and Esc closes it.
func TestShopperSeesProductCards(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t, envOptions{})
	viewport(t, ctx, 1280, 800)
	openWidget(t, ctx, e.url)
	waitJS(t, ctx, "the storefront's product grid", `document.querySelectorAll('#grid .product').length > 0`)

	ask(t, ctx, "bluetooth speaker")
	waitAnswers(t, ctx, 1)

	cards := lastCards(t, ctx)
	if len(cards) != 8 {
		t.Fatalf("%d product cards, want 8 (the server's products per answer)", len(cards))
	}
	for _, c := range cards {
		if c.PID == "" || c.Title == "" || !c.Listed {
			t.Errorf("card %+v lacks an id, a title or its list role", c)
		}
		if !strings.Contains(c.Price, "€") && !strings.Contains(c.Price, "EUR") {
			t.Errorf("card %q: price %q not formatted in euros", c.Title, c.Price)
		}
	}
	speakers := 0
	for _, c := range cards {
		if strings.Contains(strings.ToLower(c.Title), "speaker") {
			speakers++
		}
	}
	if speakers < 4 {
		t.Errorf("only %d of 8 cards are speakers: %+v", speakers, cards)
	}

	// What the screen says is what the transcript holds.
	s := screen(t, ctx)
	if s.Log.Role != "log" || s.Log.Live != "polite" {
		t.Errorf("message list role=%q aria-live=%q, want log and polite", s.Log.Role, s.Log.Live)
	}
	sess := onlySession(t, e.store)
	turns, err := e.store.History(context.Background(), sess, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Messages) != 2 || len(turns) != 2 {
		t.Fatalf("screen %+v, transcript %+v: want one question and one answer", s.Messages, turns)
	}
	for i, m := range s.Messages {
		if m.ID != turns[i].ID || m.Text != turns[i].Text || m.Role != string(turns[i].Role) {
			t.Errorf("message %d on screen %+v, in the transcript %+v", i, m, turns[i])
		}
	}
	if len(turns[1].Products) != 8 || turns[1].Products[0].ID != cards[0].PID {
		t.Errorf("transcript products %+v differ from the cards", turns[1].Products)
	}

	// Cards in view are reported as views; a click as a click.
	waitFor(t, "view events", func() bool { return len(e.events.find(events.View)) > 0 })
	for _, v := range e.events.find(events.View) {
		if v.SessionID != sess || v.Source != "widget" || !slices.ContainsFunc(cards, func(c card) bool { return c.PID == v.ProductID }) {
			t.Errorf("view event %+v is not of a card shown in session %s", v, sess)
		}
	}
	within(t, ctx, 10*time.Second, "click a card", chromedp.Click(chromedp.JSPath(shadow+`.querySelector('.msg.bot .card')`)))
	waitFor(t, "the click event", func() bool { return len(e.events.find(events.Click)) == 1 })
	if c := e.events.find(events.Click)[0]; c.ProductID != cards[0].PID || c.SessionID != sess || c.Source != "widget" {
		t.Errorf("click event %+v, want product %s of session %s from the widget", c, cards[0].PID, sess)
	}

	shot(t, ctx, "widget-desktop", 1280, 800)

	// On a phone the panel covers the screen.
	viewport(t, ctx, 375, 740)
	rect := eval[[]float64](t, ctx, `(() => { const b = `+shadow+`.querySelector('.panel').getBoundingClientRect(); return [b.left, b.top, b.width, b.height]; })()`)
	if rect[0] != 0 || rect[1] != 0 || rect[2] != 375 || rect[3] != 740 {
		t.Errorf("panel at 375×740 is %v, want full screen", rect)
	}
	shot(t, ctx, "widget-phone", 375, 740)

	// Esc closes the panel and gives the focus back to the launcher.
	within(t, ctx, 10*time.Second, "press Esc", chromedp.Focus(chromedp.JSPath(inputJS)), chromedp.KeyEvent(kb.Escape))
	waitJS(t, ctx, "the panel to close", shadow+`.querySelector('.panel').hidden && `+shadow+`.activeElement === `+launcherJS)
	if got := eval[string](t, ctx, launcherJS+`.getAttribute('aria-expanded')`); got != "false" {
		t.Errorf("launcher aria-expanded %q after closing", got)
	}
	shot(t, ctx, "storefront-phone", 375, 740)
	viewport(t, ctx, 1280, 800)
	shot(t, ctx, "storefront-desktop", 1280, 800)
}

// TestWidgetResumesAfterDrop: the connection is cut (no close frame) and
// the server refuses connections for a while; a message typed meanwhile is
// queued; when the server is back the widget reconnects, resumes the same
// session, sends the queued message once and shows every message once. A
// reload restores the conversation from the history.
func TestWidgetResumesAfterDrop(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t, envOptions{})
	viewport(t, ctx, 1280, 800)
	openWidget(t, ctx, e.url)
	ask(t, ctx, "bluetooth speaker")
	waitAnswers(t, ctx, 1)
	sess := onlySession(t, e.store)
	stored := eval[string](t, ctx, `localStorage.getItem('shopassist:ws://' + location.host + '/ws')`)
	if stored != sess {
		t.Fatalf("localStorage holds session %q, the server %q", stored, sess)
	}

	e.ln.cut(true)
	waitJS(t, ctx, "the widget to notice the drop", shadow+`.querySelector('.st').textContent === 'Reconnecting…'`)
	ask(t, ctx, "wireless mouse")
	waitJS(t, ctx, "the message to wait for the connection", shadow+`.querySelector('.msg.me.queued .meta:not([hidden])') !== null`)
	shot(t, ctx, "widget-offline-desktop", 1280, 800)

	time.Sleep(time.Second) // a few refused reconnection attempts
	e.ln.up()
	waitAnswers(t, ctx, 2)
	waitJS(t, ctx, "online", shadow+`.querySelector('.st').textContent === 'Online'`)

	if got := onlySession(t, e.store); got != sess {
		t.Fatalf("a new session %s started; want %s resumed", got, sess)
	}
	turns, err := e.store.History(context.Background(), sess, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"shopper:bluetooth speaker", "bot", "shopper:wireless mouse", "bot"}
	if got := describe(turns); !slices.Equal(got, want) {
		t.Fatalf("transcript %v, want %v (each message stored once)", got, want)
	}
	checkScreen(t, screen(t, ctx), turns)
	if !eval[bool](t, ctx, `(() => { const s = `+shadow+`.querySelector('.scroll'); return s.scrollHeight - s.scrollTop - s.clientHeight < 2; })()`) {
		t.Error("the newest answer is not scrolled into view")
	}
	if cards := lastCards(t, ctx); len(cards) == 0 || !strings.Contains(strings.ToLower(cards[0].Title), "mouse") {
		t.Errorf("answer to the queued message shows %+v", cards)
	}
	shot(t, ctx, "widget-resumed-desktop", 1280, 800)

	// A reload restores the panel (it was open) and the conversation.
	within(t, ctx, 30*time.Second, "reload", chromedp.Reload())
	waitJS(t, ctx, "history restored", `(() => { const w = document.getElementById('shopassist-widget'); return w && w.shadowRoot.querySelectorAll('.msg[data-id]').length === 4 && !w.shadowRoot.querySelector('.panel').hidden; })()`)
	checkScreen(t, screen(t, ctx), turns)
	if n := eval[int](t, ctx, shadow+`.querySelectorAll('.msg.bot .cards').length`); n != 2 {
		t.Errorf("%d answers with cards after the reload, want 2", n)
	}
}

// checkScreen compares the messages on screen with the transcript: the
// same ids in the same order, each once.
func checkScreen(t *testing.T, s onScreen, turns []sessions.Turn) {
	t.Helper()
	if len(s.Messages) != len(turns) {
		t.Fatalf("%d messages on screen, %d in the transcript:\n%+v", len(s.Messages), len(turns), s.Messages)
	}
	for i, m := range s.Messages {
		if m.ID != turns[i].ID || m.Text != turns[i].Text {
			t.Errorf("message %d on screen %+v, in the transcript %s %q", i, m, turns[i].ID, turns[i].Text)
		}
	}
}

func describe(turns []sessions.Turn) []string {
	var out []string
	for _, t := range turns {
		if t.Role == sessions.RoleShopper {
			out = append(out, "shopper:"+t.Text)
		} else {
			out = append(out, string(t.Role))
		}
	}
	return out
}

// onlySession returns the id of the one session in the store.
func onlySession(t *testing.T, st sessions.Store) string {
	t.Helper()
	page, err := st.List(context.Background(), sessions.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Sessions) != 1 {
		t.Fatalf("%d sessions in the store, want 1: %+v", len(page.Sessions), page.Sessions)
	}
	return page.Sessions[0].ID
}

// waitFor polls a server-side condition.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// brokenStore fails every Append while broken is set, as a session store
// that is down would.
type brokenStore struct {
	sessions.Store
	broken atomic.Bool
}

func (s *brokenStore) Append(ctx context.Context, id string, turns ...sessions.Turn) error {
	if s.broken.Load() {
		return fmt.Errorf("%w: test switch", sessions.ErrUnavailable)
	}
	return s.Store.Append(ctx, id, turns...)
}

// TestWidgetErrorInPlainWords: while the session store is down the shopper
// reads what happened in plain words, with a way to try again; once it is
// back, "Try again" sends the same message (same id) and it is answered and
// stored once.
func TestWidgetErrorInPlainWords(t *testing.T) {
	ctx := newBrowser(t)
	var st *brokenStore
	e := newEnv(t, envOptions{wrapStore: func(s sessions.Store) sessions.Store {
		st = &brokenStore{Store: s}
		return st
	}})
	st.broken.Store(true)
	viewport(t, ctx, 375, 740)
	openWidget(t, ctx, e.url)
	ask(t, ctx, "usb-c hub")
	waitJS(t, ctx, "the error notice", shadow+`.querySelector('.notice.err button') !== null`)
	s := screen(t, ctx)
	if len(s.Notices) != 1 || !strings.HasPrefix(s.Notices[0], "We can't reach the conversation right now.") {
		t.Fatalf("notices %q, want the unavailable message in plain words", s.Notices)
	}
	shot(t, ctx, "widget-error-phone", 375, 740)

	st.broken.Store(false)
	within(t, ctx, 10*time.Second, "try again", chromedp.Click(chromedp.JSPath(shadow+`.querySelector('.notice.err button')`)))
	waitAnswers(t, ctx, 1)
	s = screen(t, ctx)
	if len(s.Notices) != 0 {
		t.Errorf("notices %q still shown after the answer", s.Notices)
	}
	turns, err := e.store.History(context.Background(), onlySession(t, e.store), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(turns); !slices.Equal(got, []string{"shopper:usb-c hub", "bot"}) {
		t.Fatalf("transcript %v", got)
	}
	checkScreen(t, s, turns)
}

// TestWidgetStreamsTokens: an LLM answer appears in the bubble token by
// token while the stream is still open; the final message then stands in
// the bubble. When the guard replaces an answer (here: a price that no
// product has), the bubble shows the replacement, not the streamed text.
func TestWidgetStreamsTokens(t *testing.T) {
	hold := make(chan struct{})
	fake := llmtest.NewServer(t, llmtest.Script{Tokens: []string{"Good ", "choices ", "here. ", "Tell me your budget."}, HoldLast: hold})
	client, err := llm.New(llm.Config{BaseURL: fake.URL, Model: "test-model"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t)
	e := newEnv(t, envOptions{llm: client})
	viewport(t, ctx, 1280, 800)
	openWidget(t, ctx, e.url)
	ask(t, ctx, "bluetooth speaker")
	// The last token is held back: what shows now came as tokens.
	waitJS(t, ctx, "streamed tokens", `(() => { const b = `+shadow+`.querySelector('.msg.bot[aria-busy]'); return b && !b.dataset.id && b.querySelector('.bubble').textContent === 'Good choices here. '; })()`)
	if !eval[bool](t, ctx, shadow+`.querySelector('.typing').hidden`) {
		t.Error("the typing indicator still shows while tokens arrive")
	}
	close(hold)
	waitAnswers(t, ctx, 1)

	fake.SetScript(llmtest.Script{Tokens: []string{"That one ", "costs just €1.23."}})
	ask(t, ctx, "wireless mouse")
	waitAnswers(t, ctx, 2)
	turns, err := e.store.History(context.Background(), onlySession(t, e.store), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(turns); !slices.Equal(got, []string{"shopper:bluetooth speaker", "bot", "shopper:wireless mouse", "bot"}) {
		t.Fatalf("transcript %v", got)
	}
	if turns[1].Text != "Good choices here. Tell me your budget." {
		t.Errorf("stored answer %q, want the LLM's", turns[1].Text)
	}
	if strings.Contains(turns[3].Text, "€1.23") {
		t.Fatalf("the guard let an invented price through: %q", turns[3].Text)
	}
	checkScreen(t, screen(t, ctx), turns)
}

// TestQuickReplies: a vague request gets a clarifying question with
// quick-reply chips; choosing one with the keyboard sends its text as the
// shopper's message and the chips go away.
func TestQuickReplies(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t, envOptions{})
	viewport(t, ctx, 375, 740)
	openWidget(t, ctx, e.url)
	ask(t, ctx, "laptop")
	waitAnswers(t, ctx, 1)
	chips := eval[[]string](t, ctx, `Array.from(`+shadow+`.querySelectorAll('.chips .chip'), c => c.textContent)`)
	if len(chips) < 2 {
		t.Fatalf("chips %q after a vague request, want a few", chips)
	}
	if eval[string](t, ctx, shadow+`.querySelector('.chips').getAttribute('role')`) != "group" {
		t.Error("the chips are not a labelled group")
	}
	shot(t, ctx, "widget-chips-phone", 375, 740)
	within(t, ctx, 10*time.Second, "choose a chip", chromedp.Focus(chromedp.JSPath(shadow+`.querySelector('.chips .chip')`)), chromedp.KeyEvent(kb.Enter))
	waitAnswers(t, ctx, 2)
	s := screen(t, ctx)
	if s.Messages[2].Role != "shopper" || s.Messages[2].Text != chips[0] {
		t.Errorf("after choosing %q the shopper said %+v", chips[0], s.Messages[2])
	}
	if now := eval[[]string](t, ctx, `Array.from(`+shadow+`.querySelectorAll('.chips .chip'), c => c.textContent)`); slices.Equal(now, chips) {
		t.Errorf("the old chips %q are still offered", chips)
	}
	if cards := lastCards(t, ctx); len(cards) == 0 {
		t.Error("no products after choosing a budget")
	}
}

// TestWidgetRetriesWhenBusy: while a slow answer holds the connection's
// only waiting place, a third message is refused as busy; the shopper reads
// "We're busy, trying again…" and the widget sends it again by itself, with
// the same id: every message is answered and stored once.
func TestWidgetRetriesWhenBusy(t *testing.T) {
	hold := make(chan struct{})
	fake := llmtest.NewServer(t, llmtest.Script{Tokens: []string{"Here ", "you go."}, HoldLast: hold})
	client, err := llm.New(llm.Config{BaseURL: fake.URL, Model: "test-model"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t)
	e := newEnv(t, envOptions{llm: client, config: func(c *chat.Config) { c.PendingTurnsPerConn = 1 }})
	viewport(t, ctx, 375, 740)
	openWidget(t, ctx, e.url)
	ask(t, ctx, "bluetooth speaker") // held by the LLM
	ask(t, ctx, "wireless mouse")    // waits
	ask(t, ctx, "usb cable")         // refused: busy
	// The notice is about a message (keyed by its id), not about an event.
	waitJS(t, ctx, "the busy notice", `Array.from(`+shadow+`.querySelectorAll('.notice')).some(n => n.textContent === "We're busy, trying again…" && !!`+shadow+`.querySelector('.msg.me[data-id="' + n.dataset.key + '"]'))`)
	shot(t, ctx, "widget-busy-phone", 375, 740)
	close(hold)
	waitAnswers(t, ctx, 3)
	turns, err := e.store.History(context.Background(), onlySession(t, e.store), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Each message is stored once and answered. Their order is not asserted:
	// a message refused as busy is retried after the ones behind it that
	// were accepted (which ones get refused depends on timing).
	got := describe(turns)
	var asked []string
	for i, d := range got {
		if text, ok := strings.CutPrefix(d, "shopper:"); ok {
			asked = append(asked, text)
			if i+1 >= len(got) || got[i+1] != "bot" {
				t.Errorf("%q not followed by an answer in %v", text, got)
			}
		}
	}
	slices.Sort(asked)
	if want := []string{"bluetooth speaker", "usb cable", "wireless mouse"}; !slices.Equal(asked, want) || len(got) != 6 {
		t.Fatalf("transcript %v: want each of %v stored once with its answer", got, want)
	}
	// Messages typed while an answer is pending show before it: compare
	// the messages, not their order.
	s := screen(t, ctx)
	onScreen := map[string]string{}
	for _, m := range s.Messages {
		if _, dup := onScreen[m.ID]; dup {
			t.Errorf("message %s shown twice", m.ID)
		}
		onScreen[m.ID] = m.Text
	}
	for _, turn := range turns {
		if text, ok := onScreen[turn.ID]; !ok || text != turn.Text {
			t.Errorf("turn %s %q shows as %q (shown: %v)", turn.ID, turn.Text, text, ok)
		}
	}
	if len(s.Messages) != len(turns) {
		t.Errorf("%d messages on screen, %d stored", len(s.Messages), len(turns))
	}
	if len(s.Notices) != 0 {
		t.Errorf("notices %q left after the retry succeeded", s.Notices)
	}
}

// TestWidgetOnAnotherSite: a store on another origin embeds the widget
// with one script tag naming the endpoint; its aggressive global styles do
// not reach the widget, and the widget talks to the assistant across
// origins.
func TestWidgetOnAnotherSite(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t, envOptions{})
	ws := "ws" + strings.TrimPrefix(e.url, "http") + "/ws"
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><meta name="viewport" content="width=device-width">
<style>
* { color: rgb(255, 0, 0) !important; font-family: serif !important; letter-spacing: 3px !important; }
div, section, button, textarea, span, form { display: none !important; border: 5px solid lime !important; }
</style></head><body><h1>Another shop</h1>
<script src="%s/widget.js" data-endpoint="%s" data-title="Ask us" async></script></body></html>`, e.url, ws)
	}))
	t.Cleanup(store.Close)

	viewport(t, ctx, 1280, 800)
	within(t, ctx, 30*time.Second, "load the other shop", chromedp.Navigate(store.URL))
	waitJS(t, ctx, "the widget", `!!document.getElementById('shopassist-widget')`)
	within(t, ctx, 10*time.Second, "open the widget", chromedp.Click(chromedp.JSPath(launcherJS)))
	ask(t, ctx, "hp 61 ink")
	waitAnswers(t, ctx, 1)
	if cards := lastCards(t, ctx); len(cards) == 0 {
		t.Fatal("no product cards on the other site")
	}
	type look struct {
		Display, Color, Font, Spacing, Title string
	}
	got := eval[look](t, ctx, `(() => {
		const b = `+shadow+`.querySelector('.msg.bot .bubble'), cs = getComputedStyle(b);
		return {display: getComputedStyle(`+shadow+`.querySelector('.panel')).display, color: cs.color,
			font: cs.fontFamily, spacing: cs.letterSpacing, title: `+shadow+`.querySelector('header strong').textContent};
	})()`)
	if got.Display != "flex" || got.Color == "rgb(255, 0, 0)" || strings.HasPrefix(got.Font, "serif") || got.Spacing == "3px" {
		t.Errorf("the page's styles reach into the widget: %+v", got)
	}
	if got.Title != "Ask us" {
		t.Errorf("data-title ignored: header says %q", got.Title)
	}
	shot(t, ctx, "widget-other-site-desktop", 1280, 800)
}
