package chatload

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// scriptedServer answers every message as the chat protocol does: a
// products frame and done for "find …", an error frame with the code
// after "error:", and it drops the connection for "drop".
func scriptedServer(t *testing.T) string {
	up := websocket.Upgrader{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			var m struct{ Type, ID, Text string }
			if err := ws.ReadJSON(&m); err != nil {
				return
			}
			reply := func(v map[string]any) { v["reply_to"] = m.ID; ws.WriteJSON(v) }
			reply(map[string]any{"type": "typing"})
			switch {
			case m.Text == "drop":
				return
			case strings.HasPrefix(m.Text, "error:"):
				reply(map[string]any{"type": "error", "code": strings.TrimPrefix(m.Text, "error:")})
			default:
				if strings.HasPrefix(m.Text, "find") {
					reply(map[string]any{"type": "products", "items": []any{}})
				}
				reply(map[string]any{"type": "message", "text": "ok"})
				reply(map[string]any{"type": "done"})
			}
		}
	}))
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

func TestRunCountsTurnsErrorsAndLostConnections(t *testing.T) {
	url := scriptedServer(t)
	mix := []Utterance{
		{Kind: "search", Text: "find speaker", Weight: 6},
		{Kind: "service", Text: "where is my order", Weight: 2},
		{Kind: "bad", Text: "error:busy", Weight: 1},
		{Kind: "drop", Text: "drop", Weight: 0.2},
	}
	rep, err := Run(context.Background(), Config{URL: url, Conns: 20, Rate: 400, Duration: 1500 * time.Millisecond, Mix: mix, TurnTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rep)
	t.Logf("report: %s", b)
	if rep.Opened != 20 || rep.DialErrors != 0 {
		t.Errorf("opened %d, dial errors %d; want 20, 0", rep.Opened, rep.DialErrors)
	}
	if rep.ByKind["search"] == 0 || rep.ByKind["service"] == 0 || rep.ByKind["bad"] != 0 {
		t.Errorf("done by kind %v: want searches and service turns done, no errored kind", rep.ByKind)
	}
	if rep.Errors["busy"] == 0 {
		t.Errorf("errors %v: want busy counted", rep.Errors)
	}
	if rep.Lost == 0 || rep.Errors["connection_lost"] == 0 {
		t.Errorf("lost %d, errors %v: want dropped connections counted", rep.Lost, rep.Errors)
	}
	if rep.ToProducts.N != int(rep.ByKind["search"]) {
		t.Errorf("%d first-product latencies for %d searches done", rep.ToProducts.N, rep.ByKind["search"])
	}
	if rep.ToDone.N != int(rep.Done) || rep.ToDone.P50 <= 0 || rep.ToDone.P99 < rep.ToDone.P50 {
		t.Errorf("time to done %+v for %d turns done", rep.ToDone, rep.Done)
	}
	accounted := rep.Done + rep.Errors["busy"] + rep.Errors["connection_lost"] + rep.Errors["client_timeout"] + rep.Errors["send_failed"]
	if accounted != rep.Sent+rep.Errors["send_failed"] {
		t.Errorf("sent %d turns but %d finished (done %d, errors %v)", rep.Sent, accounted, rep.Done, rep.Errors)
	}
}

func TestRunIdleHoldsConnections(t *testing.T) {
	url := scriptedServer(t)
	var seen int
	rep, err := Run(context.Background(), Config{URL: url, Conns: 50, Rate: 0, Duration: 200 * time.Millisecond, OnConnected: func(n int) { seen = n }})
	if err != nil {
		t.Fatal(err)
	}
	if seen != 50 || rep.Opened != 50 || rep.Sent != 0 || rep.Lost != 0 {
		t.Errorf("idle run: OnConnected saw %d, opened %d, sent %d, lost %d", seen, rep.Opened, rep.Sent, rep.Lost)
	}
}

func TestParseMix(t *testing.T) {
	if len(DefaultMix()) < 20 {
		t.Errorf("default mix has %d utterances", len(DefaultMix()))
	}
	mix, err := ParseMix(strings.NewReader("# c\n\nbluetooth speaker\nservice\twhere is my order\nfollowup\t2.5\tcheaper ones\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Utterance{{"search", "bluetooth speaker", 1}, {"service", "where is my order", 1}, {"followup", "cheaper ones", 2.5}}
	if len(mix) != len(want) {
		t.Fatalf("got %v", mix)
	}
	for i := range want {
		if mix[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, mix[i], want[i])
		}
	}
	for _, bad := range []string{"", "# only\n", "a\t-1\tx\n", "a\tb\tc\td\n"} {
		if _, err := ParseMix(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}
