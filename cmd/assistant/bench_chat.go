package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shopassist/shopassist/internal/chatload"
)

// runBenchChat is "assistant bench chat": open --conns WebSocket sessions
// to a running server, send the utterance mix at --rate turns/s for
// --duration, and print one JSON object (chatload.Report, plus the
// server's resident memory per connection when --metrics-url is given).
func runBenchChat(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "ws://127.0.0.1:8080/ws", "WebSocket URL of a running assistant serve")
	conns := fs.Int("conns", 100, "shopper sessions held open")
	rate := fs.Float64("rate", 50, "target turns/s over all sessions (0: hold the connections idle, for memory)")
	duration := fs.Duration("duration", 30*time.Second, "how long to send turns (or hold the connections)")
	mixFile := fs.String("mix", "", "utterance mix file: kind<TAB>weight<TAB>text per line (default: the built-in mix of searches, follow-ups and service questions)")
	dialConc := fs.Int("dial-concurrency", 64, "connections opened at once")
	metricsURL := fs.String("metrics-url", "", "the server's /metrics URL: sample its resident memory before and after connecting to report KiB per connection")
	origin := fs.String("origin", "", "Origin header to send (for servers with --allowed-origins)")
	seed := fs.Uint64("seed", 1, "random seed of the utterance choice")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *conns < 1 || *rate < 0 || *duration <= 0 {
		return fmt.Errorf("bench chat: need --conns >= 1, --rate >= 0 and --duration > 0")
	}
	var mix []chatload.Utterance
	if *mixFile != "" {
		var err error
		if mix, err = chatload.LoadMixFile(*mixFile); err != nil {
			return fmt.Errorf("bench chat: %w", err)
		}
	}
	out := struct {
		chatload.Report
		ServerRSSBeforeMiB float64 `json:"server_rss_before_mib,omitempty"`
		ServerRSSAfterMiB  float64 `json:"server_rss_connected_mib,omitempty"`
		KiBPerConn         float64 `json:"server_kib_per_conn,omitempty"`
	}{}
	var before float64
	if *metricsURL != "" {
		var err error
		if before, err = residentBytes(ctx, *metricsURL); err != nil {
			return fmt.Errorf("bench chat: %w", err)
		}
	}
	fmt.Fprintf(stderr, "bench chat: %d sessions → %s, %.0f turns/s for %v\n", *conns, *url, *rate, *duration)
	rep, err := chatload.Run(ctx, chatload.Config{
		URL: *url, Conns: *conns, Rate: *rate, Duration: *duration, Mix: mix,
		DialConcurrency: *dialConc, Seed: *seed, Origin: *origin,
		OnConnected: func(open int) {
			fmt.Fprintf(stderr, "bench chat: %d sessions open\n", open)
			if *metricsURL == "" || open == 0 {
				return
			}
			time.Sleep(2 * time.Second) // let the server's goroutines settle
			after, err := residentBytes(ctx, *metricsURL)
			if err != nil {
				fmt.Fprintf(stderr, "bench chat: %v\n", err)
				return
			}
			out.ServerRSSBeforeMiB, out.ServerRSSAfterMiB = before/(1<<20), after/(1<<20)
			out.KiBPerConn = (after - before) / 1024 / float64(open)
		},
	})
	if err != nil {
		return fmt.Errorf("bench chat: %w", err)
	}
	out.Report = rep
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// residentBytes reads process_resident_memory_bytes from a Prometheus
// text endpoint.
func residentBytes(ctx context.Context, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s has no process_resident_memory_bytes", url)
}
