package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/sessions"
)

// maxUserIDLen bounds the id of DELETE /api/users/{id}, as events bound
// theirs.
const maxUserIDLen = events.DefaultMaxFieldLen

// eraseAction names an erasure in the audit log (audit.ActionErase).
const eraseAction = "erase"

// auditFunc records an operator action (the audit log). counts is the
// JSON-encodable result of the action.
type auditFunc func(ctx context.Context, action, userID string, counts any)

// userEventsEraser erases a user's events and profiles; *events.Service
// implements it.
type userEventsEraser interface {
	Erase(ctx context.Context, userID string, sessionIDs []string) (events.Erased, error)
}

// eraseResult is the JSON body of DELETE /api/users/{id}, and what the
// audit hook gets.
type eraseResult struct {
	UserID string `json:"user_id"`
	// Sessions is the number of sessions erased with their transcripts
	// and metadata.
	Sessions int `json:"sessions"`
	// Events is the number of the user's (and its sessions') events taken
	// out of the event stream; Profiles the number of profiles deleted.
	Events   int `json:"events"`
	Profiles int `json:"profiles"`
	// Error, on 500 and 503 answers, says what failed; the counts are what
	// was erased before. Repeating the request is safe.
	Error string `json:"error,omitempty"`
}

// eraseUserHandler serves DELETE /api/users/{id}; mount it with that
// pattern, the id is r.PathValue("id"). authorize runs first: when it
// returns false it has written the refusal (401, 403). Then, for the raw
// user id, the session store erases the user's sessions (DeleteUser) and
// ev the events and profiles of the user and of those sessions. Answers:
//
//	200  eraseResult: what was erased
//	404  {"error"}: nothing was known about the user
//	400  {"error"}: id empty or over 128 bytes
//	503  eraseResult with error: a backend is down (Retry-After: 5)
//	500  eraseResult with error: anything else, e.g. sessions whose user
//	     id cannot be decrypted with the configured keys
//
// audit, when not nil, gets every completed attempt (200, 404, 500, 503)
// with action "erase" and the eraseResult, before the answer. Its ctx is
// the request's, so an authorising middleware may put the operator there.
func eraseUserHandler(store sessions.Store, ev userEventsEraser, authorize func(http.ResponseWriter, *http.Request) bool, audit auditFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorize(w, r) {
			return
		}
		id := r.PathValue("id")
		if id == "" || len(id) > maxUserIDLen {
			writeEraseJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("user id of 1..%d bytes is required", maxUserIDLen)})
			return
		}
		ctx := r.Context()
		res := eraseResult{UserID: id}
		// Events are erased even when the session store failed, for the
		// sessions it did return: the most is erased by each attempt.
		ids, serr := store.DeleteUser(ctx, id)
		res.Sessions = len(ids)
		er, eerr := ev.Erase(ctx, id, ids)
		res.Events, res.Profiles = er.Events, er.Profiles
		err := errors.Join(serr, eerr)
		if err != nil {
			res.Error = err.Error()
		}
		if audit != nil {
			audit(ctx, eraseAction, id, res)
		}
		switch {
		case errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, events.ErrUnavailable):
			w.Header().Set("Retry-After", "5")
			writeEraseJSON(w, http.StatusServiceUnavailable, res)
		case err != nil:
			writeEraseJSON(w, http.StatusInternalServerError, res)
		case res.Sessions+res.Events+res.Profiles == 0:
			writeEraseJSON(w, http.StatusNotFound, map[string]string{"error": "nothing is known about this user"})
		default:
			writeEraseJSON(w, http.StatusOK, res)
		}
	})
}

// tokenAuthorizer adapts requireToken (the admin bearer token) to
// eraseUserHandler's authorize.
func tokenAuthorizer(token string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		ok := false
		requireToken(token, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ok = true })).ServeHTTP(w, r)
		return ok
	}
}

func writeEraseJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
