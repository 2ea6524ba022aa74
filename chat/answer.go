package chat

import (
	"context"
	"errors"
	"time"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/llm"
	"github.com/shopassist/shopassist/policies"
	"github.com/shopassist/shopassist/sessions"
)

// llmReserve is the part of a turn's deadline kept for storing the answer
// after an LLM call: the call gets the turn's remaining time minus this.
const llmReserve = time.Second

// llmHistory is how many earlier turns an LLM prompt shows.
const llmHistory = 6

// render is the answer step of a turn: it returns the text of the answer
// to rep. Without an LLM, or for an answer with nothing to ground it
// (questions, order flows, handoff, small talk), it is the template, which
// is complete on its own. With one, the LLM words the answer from rep's
// products and passages and the recent turns; its tokens go to the shopper
// as token frames as they arrive, and the returned text is what the
// message frame carries: the LLM's answer, or the template when the call
// failed (timeout, error, closed socket, the turn's deadline) or the guard
// found a product or price that was not retrieved. Fallbacks are counted
// by reason.
// question is the shopper's message, redacted; replyTo its id.
func (s *Server) render(ctx context.Context, c *conn, sess *sessionState, replyTo, question string, rep reply) string {
	if s.llm == nil || !rep.grounded {
		return rep.text
	}
	callCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithDeadline(ctx, deadline.Add(-llmReserve))
		defer cancel()
	}
	req := llm.Request{
		Question: question,
		Intent:   rep.intent,
		Products: llmProducts(rep.products),
		Policies: llmPassages(rep.passages),
		History:  s.llmHistory(callCtx, sess.id),
	}
	start := time.Now()
	first := true
	tokens := tokenSender{c: c, replyTo: replyTo}
	text, err := s.llm.Stream(callCtx, req, func(tok string) {
		if first {
			first = false
			s.metrics.llmFirstToken.Observe(time.Since(start).Seconds())
		}
		tokens.add(tok)
	})
	tokens.flush()
	if err != nil {
		reason := fallbackReason(err)
		s.metrics.llmFallbacks.WithLabelValues(reason).Inc()
		c.log.Info("LLM answer replaced by the template", "reason", reason, "err", err, "session", sess.id)
		return rep.text
	}
	return text
}

// tokenSender queues token frames without letting a fast stream fill the
// connection's send queue: while the queue is over half full, tokens are
// joined into the next frame instead.
type tokenSender struct {
	c       *conn
	replyTo string
	pending string
}

func (t *tokenSender) add(tok string) {
	t.pending += tok
	if t.c.queued() < t.c.srv.cfg.SendQueueFrames/2 {
		t.flush()
	}
}

func (t *tokenSender) flush() {
	if t.pending == "" {
		return
	}
	t.c.enqueue(ServerFrame{Type: TypeToken, ReplyTo: t.replyTo, Text: t.pending})
	t.pending = ""
}

// fallbackReason names why an LLM answer was not used, for the metric.
func fallbackReason(err error) string {
	switch {
	case errors.Is(err, llm.ErrUngrounded):
		return "ungrounded"
	case errors.Is(err, llm.ErrTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled" // the socket closed
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline" // the turn's deadline
	case errors.Is(err, llm.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// llmHistory returns the turns before the current message, oldest first;
// a store failure leaves the prompt without history.
func (s *Server) llmHistory(ctx context.Context, id string) []llm.Message {
	turns, err := s.store.History(ctx, id, llmHistory+1)
	if err != nil {
		s.log.Warn("history for the LLM prompt unavailable", "session", id, "err", err)
		return nil
	}
	out := make([]llm.Message, 0, len(turns))
	for _, t := range turns {
		role := "bot"
		switch t.Role {
		case sessions.RoleShopper:
			role = "shopper"
		case sessions.RoleAgent:
			role = "agent"
		}
		out = append(out, llm.Message{Role: role, Text: t.Text})
	}
	return out
}

func llmProducts(ps []*catalog.Product) []llm.Product {
	out := make([]llm.Product, 0, len(ps))
	for _, p := range ps {
		attrs := map[string]string{}
		for _, a := range keyAttributes(p, 8) {
			attrs[a.label] = a.value
		}
		out = append(out, llm.Product{ID: p.ID, Title: p.Title, Brand: p.Brand, Name: p.Name, Price: p.PriceUnits(), Currency: p.Currency, Attributes: attrs})
	}
	return out
}

func llmPassages(ps []policies.Passage) []llm.Passage {
	out := make([]llm.Passage, len(ps))
	for i, p := range ps {
		out[i] = llm.Passage{Source: p.Source, Title: p.Title, Text: p.Text}
	}
	return out
}
