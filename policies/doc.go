// Package policies answers customer-service questions from the store's
// policy documents: Markdown files (returns, delivery, payment, account,
// warranty …) split into passages by heading and searched with BM25.
//
// Load reads every *.md file of a file system (os.DirFS of a configured
// folder, or demodata.Policies for the demo store). Each heading (#, ##, ###)
// starts a passage holding the text up to the next heading; a passage's
// Title is its document's first heading and its own, joined with " › ".
// Text before a document's first heading and headings without text are
// skipped.
//
// Search tokenises the question with retrieval.Tokenize (the product index's
// tokeniser: lower case, light plural stemming), strips verb endings ("ing",
// "ed", a final "e": "creating" and "create" meet), drops English stop words
// ("policy" included: every passage is one) and scores passages with BM25
// (k1 1.2, b 0.75) over the section's text, its heading (counted twice) and
// its document's title. It returns at most k passages with a positive score, best first.
//
// An Index is immutable after Load and safe for concurrent use. Search costs
// one tokenisation of the question and a walk over the posting lists of its
// terms: microseconds for a few hundred passages.
package policies
