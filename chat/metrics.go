package chat

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the chat server's Prometheus metrics.
type Metrics struct {
	connections   prometheus.Gauge
	turns         *prometheus.CounterVec
	turnSeconds   prometheus.Histogram
	intents       *prometheus.CounterVec
	errors        *prometheus.CounterVec
	slowConsumers prometheus.Counter
	feedback      *prometheus.CounterVec
	acts          *prometheus.CounterVec
	llmFallbacks  *prometheus.CounterVec
	rankFallbacks *prometheus.CounterVec
	llmFirstToken prometheus.Histogram
	redactions    *prometheus.CounterVec
	auditFailures prometheus.Counter
}

// NewMetrics creates the chat metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shopassist_ws_connections",
			Help: "Open WebSocket connections.",
		}),
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopassist_turns_total",
			Help: "Chat turns by outcome: ok, an error code, or disconnected.",
		}, []string{"outcome"}),
		turnSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "shopassist_turn_duration_seconds",
			Help:    "Time from a shopper message to the end of its turn.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		intents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopassist_intents_total",
			Help: "Shopper messages by detected intent.",
		}, []string{"intent"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopassist_ws_errors_total",
			Help: "Error frames sent to clients (and frames over the read limit), by code.",
		}, []string{"code"}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shopassist_ws_slow_consumers_total",
			Help: "Connections closed because the client did not read its frames.",
		}),
		feedback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopassist_feedback_total",
			Help: "Answers rated by shoppers, by rating: up or down.",
		}, []string{"rating"}),
		acts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopassist_dialog_acts_total",
			Help: "Turns by what the dialog manager did: search, refine, clarify, detail, compare, more, cheaper, order:<flow>, policy, handoff, …",
		}, []string{"act"}),
		llmFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopassist_llm_fallbacks_total",
			Help: "LLM answers replaced by the template, by reason: timeout, unavailable, ungrounded, deadline (the turn's), canceled (socket closed), error.",
		}, []string{"reason"}),
		rankFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopassist_rerank_fallbacks_total",
			Help: "Searches served in retrieval order because the cross-encoder failed, by reason: timeout, busy, unavailable, error.",
		}, []string{"reason"}),
		llmFirstToken: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "shopassist_llm_first_token_seconds",
			Help:    "Time from the LLM call to its first streamed token.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 4, 8, 16},
		}),
		redactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopassist_redactions_total",
			Help: "Pieces of personal data replaced in shopper messages and feedback comments before they were used, logged or stored, by kind: email, phone, card, iban, address.",
		}, []string{"kind"}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shopassist_audit_failures_total",
			Help: "Operator actions whose audit record could not be written (reads were refused; changes were done and logged at error level).",
		}),
	}
	reg.MustRegister(m.connections, m.turns, m.turnSeconds, m.intents, m.errors, m.slowConsumers, m.feedback, m.acts, m.llmFallbacks, m.rankFallbacks, m.llmFirstToken, m.redactions, m.auditFailures)
	return m
}
