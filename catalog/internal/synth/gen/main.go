// Command gen writes a synthetic JSON Lines product feed for benchmarks:
//
//	go run ./catalog/internal/synth/gen -n 1000000 > /tmp/synth-1m.jsonl
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/shopassist/shopassist/catalog/internal/synth"
)

func main() {
	n := flag.Int("n", 1_000_000, "number of records")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := synth.Write(os.Stdout, *n, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
