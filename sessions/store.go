package sessions

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a session does not exist (or has expired).
var ErrNotFound = errors.New("sessions: not found")

// ErrUnavailable wraps backend failures (Redis down, disk error): the caller
// may retry later; nothing was written.
var ErrUnavailable = errors.New("sessions: backend unavailable")

// Role says who spoke a turn.
type Role string

// Roles of a transcript turn.
const (
	RoleShopper Role = "shopper"
	RoleBot     Role = "bot"
	RoleAgent   Role = "agent"
)

// ProductRef is a product as shown to the shopper in a bot turn, kept in the
// transcript so a resumed session can show the same cards again.
type ProductRef struct {
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	Brand    string  `json:"brand,omitempty"`
	Price    float64 `json:"price"`
	Currency string  `json:"currency,omitempty"`
	Image    string  `json:"image,omitempty"`
	Score    float64 `json:"score"`
}

// Turn is one entry of a transcript.
type Turn struct {
	// ID is the message id: the client's id for shopper turns, a server id for
	// bot and agent turns.
	ID string `json:"id"`
	// ReplyTo is, for bot and agent turns, the shopper turn answered.
	ReplyTo string `json:"reply_to,omitempty"`
	Role    Role   `json:"role"`
	Text    string `json:"text"`
	// Intent is the detected intent of a shopper turn.
	Intent   string       `json:"intent,omitempty"`
	Products []ProductRef `json:"products,omitempty"`
	At       time.Time    `json:"at"`
}

// Session is a conversation's metadata.
type Session struct {
	ID        string            `json:"id"`
	UserID    string            `json:"user_id,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Turns     int               `json:"turns"`
	Meta      map[string]string `json:"meta,omitempty"`
}

// ListOptions pages through sessions, most recently updated first.
type ListOptions struct {
	// Cursor is the Next value of the previous page; empty for the first page.
	Cursor string
	// Limit is the page size; <= 0 means 50.
	Limit int
}

// Page is one page of a session list.
type Page struct {
	Sessions []Session `json:"sessions"`
	// Next is the cursor of the following page, empty on the last one.
	Next string `json:"next,omitempty"`
}

// Store keeps sessions and their transcripts. Implementations are safe for
// concurrent use. Every method returns ErrNotFound for a missing or expired
// session and wraps backend failures with ErrUnavailable.
//
// A session expires when it has not been updated for the store's TTL; an
// expired session is gone from Get, History and List.
type Store interface {
	// Create stores a new session. s.ID must be set; CreatedAt and UpdatedAt
	// default to now. Creating an existing id returns an error.
	Create(ctx context.Context, s Session) error
	// Get returns a session's metadata.
	Get(ctx context.Context, id string) (Session, error)
	// Append adds turns to the end of a transcript in order, bumps UpdatedAt
	// and the turn count, and renews the TTL.
	Append(ctx context.Context, id string, turns ...Turn) error
	// History returns the last limit turns in chronological order (all when
	// limit <= 0).
	History(ctx context.Context, id string, limit int) ([]Turn, error)
	// SetMeta merges kv into the session's metadata; an empty value deletes
	// the key.
	SetMeta(ctx context.Context, id string, kv map[string]string) error
	// List pages through live sessions, most recently updated first.
	List(ctx context.Context, opt ListOptions) (Page, error)
	// DeleteUser erases every session whose UserID is userID — metadata,
	// transcript and index entries, expired sessions not yet swept
	// included — and returns their ids (empty, not an error, when there are
	// none). It finds them through the user → sessions index kept by
	// Create, then checks each session's stored user id, so a session id
	// reused by someone else is never deleted. Sessions whose user id cannot
	// be decrypted (ErrCorrupt) are left in place and reported in an error
	// wrapping ErrCorrupt, returned together with the ids that were
	// deleted. An empty userID returns ErrInvalid.
	DeleteUser(ctx context.Context, userID string) ([]string, error)
	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	// Close releases the backend.
	Close() error
}
