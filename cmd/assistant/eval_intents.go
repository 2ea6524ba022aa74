package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/intent"
)

// runEvalIntents is "assistant eval intents": classify a labelled CSV with
// the intent model and print one JSON object (intent.Report) on stdout.
// Rows whose label the model cannot return are counted under "excluded"
// and listed on stderr, never mapped to another label.
func runEvalIntents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval intents", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "labelled CSV with a header row (required)")
	textCol := fs.String("text-col", "utterance", "column holding the utterance")
	labelCol := fs.String("label-col", "intent", "column holding the gold intent")
	modelDir := fs.String("model-dir", "models/intent", "intent model directory (config.json, vocab.txt, model.onnx)")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime shared library (default: third_party/onnxruntime/libonnxruntime.so.1, filled by \"make ort\")")
	threshold := fs.Float64("oos-threshold", -1, "out-of-scope threshold in [0,1]; negative keeps config.json oos_threshold")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		fs.Usage()
		return errors.New("eval intents: --data is required")
	}
	if *threshold > 1 {
		return fmt.Errorf("eval intents: --oos-threshold %v is above 1", *threshold)
	}
	f, err := os.Open(*data)
	if err != nil {
		return fmt.Errorf("eval intents: %w", err)
	}
	defer f.Close()
	if err := inference.Init(inference.RuntimeConfig{LibPath: *ortLib}); err != nil {
		return fmt.Errorf("eval intents: %w", err)
	}
	var cfg intent.Config
	if *threshold >= 0 {
		cfg.Threshold = threshold
	}
	c, err := intent.Load(*modelDir, cfg)
	if err != nil {
		return fmt.Errorf("eval intents: %w", err)
	}
	defer c.Close()
	rep, err := intent.Eval(ctx, c, f, *textCol, *labelCol)
	if err != nil {
		return fmt.Errorf("eval intents: %s: %w", *data, err)
	}
	if rep.ExcludedN > 0 {
		labels := make([]string, 0, len(rep.Excluded))
		for l := range rep.Excluded {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		fmt.Fprintf(stderr, "eval intents: excluded %d rows whose label the model does not have:", rep.ExcludedN)
		for _, l := range labels {
			fmt.Fprintf(stderr, " %q×%d", l, rep.Excluded[l])
		}
		fmt.Fprintln(stderr)
	}
	return json.NewEncoder(stdout).Encode(rep)
}
