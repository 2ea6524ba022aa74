package policies

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/shopassist/shopassist/retrieval"
)

// Passage is one section of a policy document.
type Passage struct {
	// Source is the document's path in the loaded file system, e.g.
	// "returns-and-refunds.md".
	Source string `json:"source"`
	// Title is the document's title and the section's heading, e.g.
	// "Returns and refunds › Refunds".
	Title string `json:"title"`
	// Text is the section's body: Markdown with emphasis markers removed,
	// paragraphs separated by blank lines.
	Text string `json:"text"`
	// Score is the passage's BM25 score for the question (set by Search).
	Score float64 `json:"score,omitempty"`
}

// Index is a searchable set of passages.
type Index struct {
	passages []Passage
	postings map[string][]posting
	lengths  []float64
	avgLen   float64
}

type posting struct {
	doc int
	tf  float64
}

// titleSep joins a document's title and a section's heading in
// Passage.Title.
const titleSep = " › "

// ErrEmpty is returned by Load when the file system holds no passage.
var ErrEmpty = errors.New("policies: no passages found")

// Load reads every *.md file under fsys (recursively) and indexes its
// passages.
func Load(fsys fs.FS) (*Index, error) {
	var passages []Passage
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(path.Ext(p), ".md") {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		passages = append(passages, Split(p, string(b))...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	if len(passages) == 0 {
		return nil, ErrEmpty
	}
	return New(passages), nil
}

// New indexes passages as they are.
func New(passages []Passage) *Index {
	ix := &Index{passages: passages, postings: make(map[string][]posting), lengths: make([]float64, len(passages))}
	var total float64
	for i, p := range passages {
		tf := map[string]float64{}
		n := 0.0
		doc, heading, found := strings.Cut(p.Title, titleSep)
		if !found {
			doc, heading = "", doc
		}
		for _, t := range terms(doc) {
			tf[t]++
			n++
		}
		for _, t := range terms(heading) {
			tf[t] += 2
			n += 2
		}
		for _, t := range terms(p.Text) {
			tf[t]++
			n++
		}
		keys := make([]string, 0, len(tf))
		for t := range tf {
			keys = append(keys, t)
		}
		sort.Strings(keys)
		for _, t := range keys {
			ix.postings[t] = append(ix.postings[t], posting{doc: i, tf: tf[t]})
		}
		ix.lengths[i] = n
		total += n
	}
	ix.avgLen = total / float64(max(len(passages), 1))
	return ix
}

// Len is the number of passages.
func (ix *Index) Len() int { return len(ix.passages) }

// Passages returns the indexed passages in load order. The slice must not be
// modified.
func (ix *Index) Passages() []Passage { return ix.passages }

// BM25 parameters.
const (
	k1 = 1.2
	b  = 0.75
)

// Search returns up to k passages answering question, best first; only
// passages sharing a term with it (after stop words are dropped) are
// returned.
func (ix *Index) Search(question string, k int) []Passage {
	if k <= 0 {
		return nil
	}
	n := float64(len(ix.passages))
	scores := map[int]float64{}
	seen := map[string]bool{}
	for _, t := range terms(question) {
		if seen[t] {
			continue
		}
		seen[t] = true
		ps := ix.postings[t]
		if len(ps) == 0 {
			continue
		}
		df := float64(len(ps))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for _, p := range ps {
			norm := p.tf + k1*(1-b+b*ix.lengths[p.doc]/ix.avgLen)
			scores[p.doc] += idf * p.tf * (k1 + 1) / norm
		}
	}
	out := make([]Passage, 0, len(scores))
	for d, s := range scores {
		p := ix.passages[d]
		p.Score = s
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Passage) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return strings.Compare(a.Source+a.Title, b.Source+b.Title)
	})
	return out[:min(k, len(out))]
}

// terms tokenises s for the index: retrieval.Tokenize without stop words,
// each term stemmed.
func terms(s string) []string {
	toks := retrieval.Tokenize(s)
	out := toks[:0]
	for _, t := range toks {
		if !stopWords[t] {
			out = append(out, stem(t))
		}
	}
	return out
}

// stem strips the verb endings retrieval.Tokenize leaves (it stems plurals
// only), so "creating", "created" and "create" meet: "ing", then "ed", then
// a final "e", from alphabetic words long enough to keep a stem of four
// letters.
func stem(t string) string {
	for _, c := range t {
		if c < 'a' || c > 'z' {
			return t
		}
	}
	for _, suf := range []string{"ing", "ed", "e"} {
		if len(t)-len(suf) >= 4 && strings.HasSuffix(t, suf) {
			return t[:len(t)-len(suf)]
		}
	}
	return t
}

// Split cuts one Markdown document into passages, one per heading that has
// text under it.
func Split(source, markdown string) []Passage {
	var (
		out     []Passage
		title   string // the document's first heading
		heading string
		body    []string
	)
	flush := func() {
		text := strings.TrimSpace(collapseBlank(body))
		body = body[:0]
		if heading == "" || text == "" {
			return
		}
		t := heading
		if title != "" && title != heading {
			t = title + titleSep + heading
		}
		out = append(out, Passage{Source: source, Title: t, Text: text})
	}
	sc := bufio.NewScanner(strings.NewReader(markdown))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if h, ok := headingText(line); ok {
			flush()
			heading = h
			if title == "" {
				title = h
			}
			continue
		}
		body = append(body, stripEmphasis(line))
	}
	flush()
	return out
}

// headingText returns the text of an ATX heading of level 1 to 3.
func headingText(line string) (string, bool) {
	level := 0
	for level < len(line) && line[level] == '#' {
		level++
	}
	if level == 0 || level > 3 || level >= len(line) || line[level] != ' ' {
		return "", false
	}
	return strings.TrimSpace(strings.TrimRight(line[level:], "#")), true
}

func stripEmphasis(line string) string {
	return strings.NewReplacer("**", "", "__", "", "`", "").Replace(line)
}

// collapseBlank joins a section's lines into text: paragraphs are
// separated by one blank line, the lines of a paragraph are joined with
// spaces (Markdown's soft line breaks), and list items keep a line each.
func collapseBlank(lines []string) string {
	var sb strings.Builder
	blank, started := false, false
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			blank = true
			continue
		}
		switch {
		case !started:
		case blank:
			sb.WriteString("\n\n")
		case listItem(l):
			sb.WriteByte('\n')
		default:
			sb.WriteByte(' ')
		}
		started, blank = true, false
		sb.WriteString(l)
	}
	return sb.String()
}

// listItem reports a Markdown list item: "- x", "* x", "+ x", "1. x".
func listItem(l string) bool {
	if len(l) > 1 && strings.ContainsRune("-*+", rune(l[0])) && l[1] == ' ' {
		return true
	}
	i := 0
	for i < len(l) && l[i] >= '0' && l[i] <= '9' {
		i++
	}
	return i > 0 && i+1 < len(l) && (l[i] == '.' || l[i] == ')') && l[i+1] == ' '
}

// stopWords are English function words that carry nothing for retrieval
// (after retrieval.Tokenize, so plurals are already stemmed).
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about after all also am an and any are as at be been before being but by can
could did do does doing don for from get got had has have having he her here hi hello his how i if in into is it its
just let me might more most my no not now of off on once only or other our out over please policy so some such than that
the their them then there these they this those to too under until up us very want was we were what when where which
while who why will with would you your yours`) {
		m[w] = true
	}
	return m
}()
