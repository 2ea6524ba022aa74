package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Role is what an operator may do.
type Role string

// Roles, each allowed what the one before it is and more.
const (
	// RoleViewer reads the session list, transcripts (redacted), analytics
	// and the live stream.
	RoleViewer Role = "viewer"
	// RoleAgent also takes conversations over, replies and hands back.
	RoleAgent Role = "agent"
	// RoleAdmin also exports transcripts, reads originals of redacted
	// messages, erases users and reads the audit log.
	RoleAdmin Role = "admin"
)

// rank orders the roles; 0 is no role.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleAgent:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// ParseRole reads "viewer", "agent" or "admin".
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.rank() == 0 {
		return "", fmt.Errorf("unknown role %q (want viewer, agent or admin)", s)
	}
	return r, nil
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether r may do a: every valid role may sign in and out
// and view transcripts; agents and admins may take over, reply and hand
// back; only admins may export, view originals, erase and view the audit
// log. An unknown role or action is allowed nothing.
func (r Role) Allows(a Action) bool {
	need := a.Needs()
	return need != "" && r.rank() >= need.rank()
}

// Action is what an operator did.
type Action string

// Actions recorded in the log.
const (
	ActionSignIn         Action = "sign_in"
	ActionSignOut        Action = "sign_out"
	ActionViewTranscript Action = "view_transcript"
	ActionTakeover       Action = "takeover"
	ActionReply          Action = "reply"
	ActionHandback       Action = "handback"
	ActionExport         Action = "export"
	ActionViewOriginal   Action = "view_original"
	ActionErase          Action = "erase"
	ActionViewAudit      Action = "view_audit"
)

// Actions lists every action, for the console's table of what a role may
// do.
var Actions = []Action{ActionSignIn, ActionSignOut, ActionViewTranscript, ActionTakeover, ActionReply, ActionHandback, ActionExport, ActionViewOriginal, ActionErase, ActionViewAudit}

// Needs is the least role allowed to do a; "" for an unknown action.
func (a Action) Needs() Role {
	switch a {
	case ActionSignIn, ActionSignOut, ActionViewTranscript:
		return RoleViewer
	case ActionTakeover, ActionReply, ActionHandback:
		return RoleAgent
	case ActionExport, ActionViewOriginal, ActionErase, ActionViewAudit:
		return RoleAdmin
	}
	return ""
}

// Describe says what a is in words, for refusals ("take over
// conversations").
func (a Action) Describe() string {
	switch a {
	case ActionSignIn:
		return "sign in"
	case ActionSignOut:
		return "sign out"
	case ActionViewTranscript:
		return "read transcripts"
	case ActionTakeover:
		return "take over conversations"
	case ActionReply:
		return "reply to shoppers"
	case ActionHandback:
		return "hand conversations back"
	case ActionExport:
		return "export transcripts"
	case ActionViewOriginal:
		return "read the originals of redacted messages"
	case ActionErase:
		return "erase shoppers' data"
	case ActionViewAudit:
		return "read the audit log"
	}
	return string(a)
}

// Operator is who makes a request of the operator API: the account (or
// display name, for the bootstrap admin) and its role.
type Operator struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// Outcome says how an action ended.
type Outcome string

// Outcomes.
const (
	// OK: the action was done (or, for a read, its data was sent).
	OK Outcome = "ok"
	// Denied: the operator's role does not allow the action (HTTP 403).
	Denied Outcome = "denied"
	// Failed: a sign-in with a wrong name, password or token.
	Failed Outcome = "failed"
	// Locked: a sign-in refused because of earlier failures (HTTP 429).
	Locked Outcome = "locked"
)

// Record is one entry of the log.
type Record struct {
	Time     time.Time `json:"time"`
	Operator string    `json:"operator"`
	Role     Role      `json:"role,omitempty"`
	Action   Action    `json:"action"`
	Outcome  Outcome   `json:"outcome"`
	// Session is the conversation acted on, if any.
	Session string `json:"session,omitempty"`
	// Target is what else the action names: a message id (view_original,
	// reply) or a pseudonymous user id (erase).
	Target string `json:"target,omitempty"`
	// IP is the client's address.
	IP string `json:"ip,omitempty"`
	// Detail is a short reason in words ("wrong password", "unknown
	// account", "bootstrap password").
	Detail string `json:"detail,omitempty"`
}

// MaxRecent bounds Recent's limit.
const MaxRecent = 1000

// ErrUnavailable wraps failures of the log's backend: the record was not
// (known to be) written.
var ErrUnavailable = errors.New("audit: log unavailable")

// Log is an append-only record of operator actions. Implementations are
// safe for concurrent use.
type Log interface {
	// Append writes r durably before it returns (File: fsync'ed; Redis:
	// acknowledged). A zero Time is set to now (UTC). r.Action and
	// r.Outcome must be set. Errors wrap ErrUnavailable.
	Append(ctx context.Context, r Record) error
	// Recent returns the last limit records (1..MaxRecent), newest first.
	Recent(ctx context.Context, limit int) ([]Record, error)
	// Close releases what the log opened (not a Redis client it was
	// given).
	Close() error
}

// check validates and completes a record before it is written.
func check(r *Record) error {
	if r.Action == "" || r.Outcome == "" {
		return errors.New("audit: a record needs an action and an outcome")
	}
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	return nil
}

func checkLimit(limit int) error {
	if limit < 1 || limit > MaxRecent {
		return fmt.Errorf("audit: limit %d out of 1..%d", limit, MaxRecent)
	}
	return nil
}

// Memory keeps the last records in memory: for tests, and for a server
// without a configured log (what it holds is lost at restart).
type Memory struct {
	mu   sync.Mutex
	ring []Record
	next int  // where the next record goes
	full bool // the ring has wrapped
}

var _ Log = (*Memory)(nil)

// NewMemory returns a Memory keeping the last capacity records (at least
// 1; 10,000 when capacity <= 0).
func NewMemory(capacity int) *Memory {
	if capacity <= 0 {
		capacity = 10000
	}
	return &Memory{ring: make([]Record, capacity)}
}

// Append keeps r, dropping the oldest record when full.
func (m *Memory) Append(_ context.Context, r Record) error {
	if err := check(&r); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ring[m.next] = r
	m.next = (m.next + 1) % len(m.ring)
	if m.next == 0 {
		m.full = true
	}
	return nil
}

// Recent returns up to limit records, newest first.
func (m *Memory) Recent(_ context.Context, limit int) ([]Record, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.next
	if m.full {
		n = len(m.ring)
	}
	out := make([]Record, 0, min(limit, n))
	for i := 1; i <= n && len(out) < limit; i++ {
		out = append(out, m.ring[(m.next-i+len(m.ring))%len(m.ring)])
	}
	return out, nil
}

// Close does nothing.
func (m *Memory) Close() error { return nil }
