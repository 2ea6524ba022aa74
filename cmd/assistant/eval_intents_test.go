package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopassist/shopassist/inference/inferencetest"
)

func TestEvalIntentsCommand(t *testing.T) {
	inferencetest.RequireRuntime(t)
	csv := filepath.Join(t.TempDir(), "eval.csv")
	// Threshold 1 labels every row out_of_scope, so the expected figures
	// follow from the gold labels alone.
	body := "utterance,intent\n" +
		"show me red shoes,search_product\n" +
		"where is my order,order_status\n" +
		"what is the meaning of life,out_of_scope\n" +
		"tell me a joke,out_of_scope\n" +
		"track my parcel,track_package\n"
	if err := os.WriteFile(csv, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := runEvalIntents(context.Background(), []string{
		"--data", csv, "--model-dir", filepath.Join("..", "..", "inference", "testdata", "tiny"), "--oos-threshold", "1",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("runEvalIntents: %v\n%s", err, stderr.String())
	}
	var rep struct {
		Accuracy           float64            `json:"accuracy"`
		MacroF1            float64            `json:"macro_f1"`
		PerIntent          map[string]float64 `json:"per_intent"`
		OOSRecall          *float64           `json:"oos_recall"`
		InScopeFalseReject *float64           `json:"in_scope_false_reject"`
		N                  int                `json:"n"`
		Excluded           map[string]int     `json:"excluded"`
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &raw); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	for _, k := range []string{"accuracy", "macro_f1", "per_intent", "oos_recall", "in_scope_false_reject", "n", "excluded"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("report lacks %q: %s", k, stdout.String())
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	// out_of_scope F1 = 2*2/(2*2+2+0) = 2/3; the two in-scope labels 0.
	if rep.N != 4 || rep.Accuracy != 0.5 || rep.OOSRecall == nil || *rep.OOSRecall != 1 ||
		rep.InScopeFalseReject == nil || *rep.InScopeFalseReject != 1 || rep.Excluded["track_package"] != 1 ||
		rep.PerIntent["search_product"] != 0 || rep.PerIntent["out_of_scope"] < 0.666 || rep.PerIntent["out_of_scope"] > 0.667 {
		t.Errorf("report = %s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "track_package") {
		t.Errorf("stderr does not report the excluded label: %q", stderr.String())
	}

	if err := runEvalIntents(context.Background(), nil, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "--data") {
		t.Errorf("without --data: %v", err)
	}
}
