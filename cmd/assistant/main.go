// Command assistant is the shopassist binary: the chat server and the tools
// around it.
//
//	assistant serve    [flags]   serve the chat, the storefront and the APIs
//	assistant ingest   [flags]   load product feeds into the data dir
//	assistant eval ... [flags]   measure models and search on labelled data
//
// Every flag can also be set by an ASSISTANT_* environment variable named
// after it (--data-dir → ASSISTANT_DATA_DIR); a flag on the command line wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: assistant <command> [flags]

commands:
  serve           serve the chat (WebSocket /ws), the demo storefront and the HTTP APIs
  ingest          read product feeds, clean them and store the catalogue in the data dir
  eval intents    evaluate the intent model on a labelled CSV
  eval search     measure search quality on graded relevance judgments
  operator add    add an operator account (name, role, password or API token) to an accounts file
  keygen          print a new encryption key for transcripts and profiles at rest
  rotate-keys     re-encrypt stored transcripts and profiles under the current key
  bench chat      load a running server with many WebSocket shoppers and measure turn latency
  bench events    load a running server with realistic behaviour events and measure profile latency

Run "assistant <command> -h" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "assistant:", err)
		}
		os.Exit(2)
	}
}

// run dispatches a subcommand. stop releases the signal context; serve calls
// it once shutdown has begun so that a second signal kills the process.
func run(ctx context.Context, stop context.CancelFunc, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, stop, args[1:], stdout, stderr)
	case "ingest":
		return runIngest(ctx, args[1:], stdout, stderr)
	case "keygen":
		return runKeygen(ctx, args[1:], stdout, stderr)
	case "rotate-keys":
		return runRotateKeys(ctx, args[1:], stdout, stderr)
	case "operator":
		return runOperator(ctx, args[1:], os.Stdin, stdout, stderr)
	case "eval":
		if len(args) < 2 {
			return fmt.Errorf("eval needs a target: intents or search")
		}
		switch args[1] {
		case "intents":
			return runEvalIntents(ctx, args[2:], stdout, stderr)
		case "search":
			return runEvalSearch(ctx, args[2:], stdout, stderr)
		default:
			return fmt.Errorf("unknown eval target %q (want intents or search)", args[1])
		}
	case "bench":
		if len(args) < 2 {
			return fmt.Errorf("bench needs a target: chat or events")
		}
		switch args[1] {
		case "chat":
			return runBenchChat(ctx, args[2:], stdout, stderr)
		case "events":
			return runBenchEvents(ctx, args[2:], stdout, stderr)
		default:
			return fmt.Errorf("unknown bench target %q (want chat or events)", args[1])
		}
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
