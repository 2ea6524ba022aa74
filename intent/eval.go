package intent

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Report is the result of Eval. Rates are fractions in [0, 1].
type Report struct {
	// Accuracy is the share of rows whose predicted label equals the gold one.
	Accuracy float64 `json:"accuracy"`
	// MacroF1 is the mean F1 over the labels present in the gold column, OOS
	// included (as training/eval_intents.py computes it): a wrong prediction
	// still lowers its gold label's recall and the predicted one's precision.
	MacroF1 float64 `json:"macro_f1"`
	// MacroF1AllLabels is the mean over labels in gold or predictions
	// (scikit-learn's default), which also counts labels only predicted.
	MacroF1AllLabels float64 `json:"macro_f1_all_labels"`
	// PerIntent is the F1 of every label in gold or predictions.
	PerIntent map[string]float64 `json:"per_intent"`
	// OOSRecall is the share of gold-OOS rows predicted OOS; null without
	// such rows.
	OOSRecall *float64 `json:"oos_recall"`
	// InScopeFalseReject is the share of in-scope rows predicted OOS; null
	// without such rows.
	InScopeFalseReject *float64 `json:"in_scope_false_reject"`
	// N is the number of rows scored.
	N int `json:"n"`
	// Excluded counts the rows left out, by gold label, because the label is
	// not one the classifier can return; ExcludedN is their total.
	Excluded  map[string]int `json:"excluded"`
	ExcludedN int            `json:"excluded_n"`
}

// Eval reads a CSV with a header row from r, classifies textCol and
// compares with labelCol. Rows whose label is not in c.Labels() are counted
// in Report.Excluded, never mapped to another label.
func Eval(ctx context.Context, c *Classifier, r io.Reader, textCol, labelCol string) (Report, error) {
	texts, gold, excluded, err := readLabelled(r, textCol, labelCol, c.Labels())
	if err != nil {
		return Report{}, err
	}
	res, err := c.ClassifyBatch(ctx, texts)
	if err != nil {
		return Report{}, err
	}
	pred := make([]string, len(res))
	for i, r := range res {
		pred[i] = r.Label
	}
	rep := Score(gold, pred, c.OOSLabel())
	rep.Excluded = excluded
	for _, n := range excluded {
		rep.ExcludedN += n
	}
	return rep, nil
}

func readLabelled(r io.Reader, textCol, labelCol string, labels []string) (texts, gold []string, excluded map[string]int, err error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("intent: eval data: reading header: %w", err)
	}
	ti, li := -1, -1
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		switch h {
		case textCol:
			ti = i
		case labelCol:
			li = i
		}
	}
	if ti < 0 || li < 0 {
		return nil, nil, nil, fmt.Errorf("intent: eval data: need columns %q and %q, header has %q", textCol, labelCol, header)
	}
	known := make(map[string]bool, len(labels))
	for _, l := range labels {
		known[l] = true
	}
	excluded = map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("intent: eval data: %w", err)
		}
		label := strings.TrimSpace(rec[li])
		if !known[label] {
			excluded[label]++
			continue
		}
		texts = append(texts, rec[ti])
		gold = append(gold, label)
	}
	return texts, gold, excluded, nil
}

// Score computes the metrics of Report (all but Excluded) from gold and
// predicted labels of the same rows.
func Score(gold, pred []string, oos string) Report {
	rep := Report{N: len(gold), PerIntent: map[string]float64{}, Excluded: map[string]int{}}
	if len(gold) != len(pred) {
		panic("intent.Score: gold and pred differ in length")
	}
	if len(gold) == 0 {
		return rep
	}
	tp, fp, fn := map[string]int{}, map[string]int{}, map[string]int{}
	correct, oosN, oosHit, inN, inRejected := 0, 0, 0, 0, 0
	for i, g := range gold {
		p := pred[i]
		if g == p {
			correct++
			tp[g]++
		} else {
			fp[p]++
			fn[g]++
		}
		if g == oos {
			oosN++
			if p == oos {
				oosHit++
			}
		} else {
			inN++
			if p == oos {
				inRejected++
			}
		}
	}
	rep.Accuracy = float64(correct) / float64(len(gold))
	inGold := map[string]bool{}
	for _, g := range gold {
		inGold[g] = true
	}
	var labels []string
	for _, m := range []map[string]int{tp, fp, fn} {
		for l := range m {
			if !slices.Contains(labels, l) {
				labels = append(labels, l)
			}
		}
	}
	// F1 = 2PR/(P+R) = 2TP/(2TP+FP+FN); every label here has a row, so the
	// denominator is positive.
	for _, l := range labels {
		f1 := 2 * float64(tp[l]) / float64(2*tp[l]+fp[l]+fn[l])
		rep.PerIntent[l] = f1
		rep.MacroF1AllLabels += f1
		if inGold[l] {
			rep.MacroF1 += f1
		}
	}
	rep.MacroF1AllLabels /= float64(len(labels))
	rep.MacroF1 /= float64(len(inGold))
	if oosN > 0 {
		v := float64(oosHit) / float64(oosN)
		rep.OOSRecall = &v
	}
	if inN > 0 {
		v := float64(inRejected) / float64(inN)
		rep.InScopeFalseReject = &v
	}
	return rep
}
