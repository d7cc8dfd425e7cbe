package server

import (
	"context"
	"log/slog"

	"github.com/healthcode/healthcode"
)

// requestInfo is what every log line of a request says about it: its id,
// and the actor its credentials name once a layer inside has checked them
// (authenticate, the pages' session), so that the request's own line,
// written outside those layers, names the actor too.
type requestInfo struct {
	id    string
	actor healthcode.Actor
}

type requestInfoKey struct{}

func withRequestInfo(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, &requestInfo{id: id})
}

// noteActor records the request's authenticated actor for its log lines.
func noteActor(ctx context.Context, a healthcode.Actor) {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		info.actor = a
	}
}

// actorAttr names an actor in logs as kind:id, or "public".
func actorAttr(a healthcode.Actor) slog.Attr {
	if a.Kind == "" {
		return slog.String("actor", "public")
	}
	return slog.String("actor", a.Kind+":"+a.ID)
}

// requestLogHandler adds request_id and actor to every record logged with
// a request's context (the ...Context methods of slog.Logger).
type requestLogHandler struct{ slog.Handler }

func (h requestLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		a := healthcode.ActorFrom(ctx)
		if a.Kind == "" {
			a = info.actor
		}
		r.AddAttrs(slog.String("request_id", info.id), actorAttr(a))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestLogHandler{h.Handler.WithAttrs(as)}
}

func (h requestLogHandler) WithGroup(name string) slog.Handler {
	return requestLogHandler{h.Handler.WithGroup(name)}
}
