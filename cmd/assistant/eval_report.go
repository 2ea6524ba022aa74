package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"slices"
	"time"

	"github.com/shopassist/shopassist/retrieval"
)

// reportTop is how many results per query the HTML report lists.
const reportTop = 10

// reportStages evaluates every retrieval mode idx supports (BM25 alone;
// dense and hybrid when it has a bi-encoder) and appends the stages in
// extra that are not one of those (the reranked final stage).
func reportStages(ctx context.Context, idx retrieval.Index, qs []searchJudgedQuery, k int, extra ...stageEval) ([]stageEval, error) {
	modes := []struct{ name, mode string }{{"BM25", retrieval.ModeLexical}, {"dense", retrieval.ModeDense}, {"hybrid", retrieval.ModeHybrid}}
	var out []stageEval
	for _, m := range modes {
		res, err := evalStage(ctx, m.name, qs, k, func(ctx context.Context, text string, depth int) ([]retrieval.Hit, error) {
			return idx.Search(ctx, retrieval.Query{Text: text, K: depth, Mode: m.mode})
		})
		if err != nil {
			if m.mode != retrieval.ModeLexical && errors.Is(err, retrieval.ErrNoEncoder) {
				continue
			}
			return nil, err
		}
		out = append(out, res)
	}
	for _, e := range extra {
		if e.Name != "retrieval" {
			out = append(out, e)
		}
	}
	return out, nil
}

// reportData is what the report template renders.
type reportData struct {
	Judgments string
	When      string
	K         int
	Stages    []stageEval
	Bars      []reportBar
	ChartW    float64
	Legend    []struct{ Name, Colour string }
	Queries   []reportQuery // worst (last stage's nDCG) first
}

// reportBar is one bar of the per-stage chart.
type reportBar struct {
	Metric, Stage string
	Value         float64
	X, Y, W, H    float64
	Colour        string
}

type reportQuery struct {
	Text   string
	NDCG   []float64 // per stage, in Stages order
	Recall string
	Top    []reportHit
}

type reportHit struct {
	Rank             int
	ID, Title, Brand string
	Price            string
	Grade            string // "3", "2", "1", "0" or "unjudged"
	GradeClass       string
}

// writeSearchReportFile renders the report to path.
func writeSearchReportFile(path string, k int, judgments string, stages []stageEval) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeSearchReport(f, k, judgments, stages); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeSearchReport renders an HTML page: a bar chart of every stage's
// figures, then one row per query, worst nDCG@k of the last stage first,
// with its nDCG at every stage and the last stage's top results with their
// grades.
func writeSearchReport(w io.Writer, k int, judgments string, stages []stageEval) error {
	if len(stages) == 0 {
		return fmt.Errorf("no stages to report")
	}
	d := reportData{Judgments: judgments, When: time.Now().UTC().Format(time.RFC3339), K: k, Stages: stages}
	colours := []string{"#8da0cb", "#66c2a5", "#fc8d62", "#e78ac3", "#a6d854"}
	metrics := []struct {
		name string
		get  func(stageEval) float64
	}{
		{fmt.Sprintf("nDCG@%d", k), func(s stageEval) float64 { return s.NDCG }},
		{fmt.Sprintf("nDCG'@%d", k), func(s stageEval) float64 { return s.NDCGJudged }},
		{fmt.Sprintf("P@%d", k), func(s stageEval) float64 { return s.Precision }},
		{"recall@100", func(s stageEval) float64 { return s.Recall }},
	}
	const gap, groupGap, chartH = 4.0, 30.0, 200.0
	barW := max(22, 80/float64(len(stages))) // a group is at least as wide as its label
	x := 10.0
	for _, m := range metrics {
		for i, s := range stages {
			v := m.get(s)
			d.Bars = append(d.Bars, reportBar{Metric: m.name, Stage: s.Name, Value: v, X: x, Y: 20 + chartH*(1-v), W: barW, H: chartH * v, Colour: colours[i%len(colours)]})
			x += barW + gap
		}
		x += groupGap
	}
	d.ChartW = x
	for i, s := range stages {
		d.Legend = append(d.Legend, struct{ Name, Colour string }{s.Name, colours[i%len(colours)]})
	}
	last := stages[len(stages)-1]
	for qi, q := range last.Queries {
		rq := reportQuery{Text: q.Text, Recall: "–"}
		for _, s := range stages {
			rq.NDCG = append(rq.NDCG, s.Queries[qi].NDCG)
		}
		if q.HasRecall {
			rq.Recall = fmt.Sprintf("%.2f", q.Recall)
		}
		for i, h := range q.Hits[:min(reportTop, len(q.Hits))] {
			rh := reportHit{Rank: i + 1, ID: h.Product.ID, Title: h.Product.Title, Brand: h.Product.Brand, Grade: "unjudged", GradeClass: "gu"}
			if h.Product.Price > 0 {
				rh.Price = fmt.Sprintf("%.2f %s", float64(h.Product.Price)/100, h.Product.Currency)
			}
			if g, ok := q.Judged[h.Product.ID]; ok {
				rh.Grade, rh.GradeClass = fmt.Sprint(g), fmt.Sprintf("g%d", g)
			}
			rq.Top = append(rq.Top, rh)
		}
		d.Queries = append(d.Queries, rq)
	}
	n := len(stages) - 1
	slices.SortStableFunc(d.Queries, func(a, b reportQuery) int {
		switch {
		case a.NDCG[n] < b.NDCG[n]:
			return -1
		case a.NDCG[n] > b.NDCG[n]:
			return 1
		}
		return 0
	})
	return reportTmpl.Execute(w, d)
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"f3":   func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"pct":  func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) },
	"add":  func(a, b float64) float64 { return a + b },
	"half": func(a float64) float64 { return a / 2 },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Search evaluation — {{.Judgments}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
details summary{cursor:pointer}.g3{background:#1a9850;color:#fff}.g2{background:#91cf60}
.g1{background:#fee08b}.g0{background:#f46d43;color:#fff}.gu{background:#eee;color:#666;font-style:italic}
.grade{display:inline-block;min-width:5.5em;text-align:center;border-radius:3px;padding:0 .3em}
.bad{color:#b2182b;font-weight:600}.legend span{display:inline-block;width:12px;height:12px;margin:0 .3em 0 1em;vertical-align:middle}
</style></head><body>
<h1>Search evaluation</h1>
<p>Judgments <code>{{.Judgments}}</code>, {{len (index .Stages 0).Queries}} queries, written {{.When}}.
Gain 2<sup>rating</sup>−1; unjudged products count as irrelevant in nDCG@{{.K}} and are removed before the cut in nDCG'@{{.K}};
P@{{.K}} and recall@100 count ratings ≥ 2 as relevant.</p>
<h2>Stages</h2>
<div class="legend">{{range .Legend}}<span style="background:{{.Colour}}"></span>{{.Name}}{{end}}</div>
<svg role="img" aria-label="figures per stage" width="{{.ChartW}}" height="250" viewBox="0 0 {{.ChartW}} 250">
{{range .Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Colour}}"><title>{{.Stage}} {{.Metric}} {{f3 .Value}}</title></rect>
<text x="{{add .X (half .W)}}" y="{{add .Y -4}}" font-size="9" text-anchor="middle">{{f3 .Value}}</text>
{{end}}{{range $i, $b := .Bars}}{{if eq $b.Stage (index $.Stages 0).Name}}<text x="{{$b.X}}" y="240" font-size="12">{{$b.Metric}}</text>{{end}}{{end}}
<line x1="0" y1="220" x2="{{.ChartW}}" y2="220" stroke="#999"/>
</svg>
<table><tr><th>stage</th><th>nDCG@{{.K}}</th><th>nDCG'@{{.K}}</th><th>P@{{.K}}</th><th>recall@100</th></tr>
{{range .Stages}}<tr><td>{{.Name}}</td><td class="n">{{f3 .NDCG}}</td><td class="n">{{f3 .NDCGJudged}}</td><td class="n">{{f3 .Precision}}</td><td class="n">{{f3 .Recall}}</td></tr>
{{end}}</table>
<h2>Queries, worst first</h2>
<table><tr><th>query</th>{{range .Stages}}<th>nDCG@{{$.K}} {{.Name}}</th>{{end}}<th>recall@100</th></tr>
{{range .Queries}}<tr><td><details><summary>{{.Text}}</summary>
<table>{{range .Top}}<tr><td class="n">{{.Rank}}</td><td><span class="grade {{.GradeClass}}">{{.Grade}}</span></td><td>{{.Title}}{{if .Brand}} <small>({{.Brand}})</small>{{end}}</td><td class="n">{{.Price}}</td><td><code>{{.ID}}</code></td></tr>{{end}}</table>
</details></td>{{range .NDCG}}<td class="n{{if lt . 0.3}} bad{{end}}">{{f3 .}}</td>{{end}}<td class="n">{{.Recall}}</td></tr>
{{end}}</table>
</body></html>
`))
