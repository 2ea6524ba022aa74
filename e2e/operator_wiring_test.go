package e2e

import (
	"net/http"

	"github.com/shopassist/shopassist/chat"
	"github.com/shopassist/shopassist/web"
)

// configureOperators sets the chat server's operator hook, as serve.go does
// when an operator password is configured.
func configureOperators(cfg *chat.Config, auth *web.OperatorAuth) {
	cfg.OperatorAuth = auth.Authorize
}

// mountOperatorAPI mounts the chat server's operator API.
func mountOperatorAPI(mux *http.ServeMux, cs *chat.Server) {
	mux.Handle("/api/operator/", cs.OperatorHandler())
}
