package server

import (
	"net/http"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/server/web"
	"github.com/healthcode/healthcode/tlog"
)

// Route is one registered route, for documentation checks.
type Route struct {
	Method, Path string
}

// routeTable lists every route: method and pattern, and its handler.
func (s *Server) routeTable() []struct {
	pattern string
	h       http.Handler
} {
	logTiles := tlog.NewHandler(logBackend{s.db, &s.witnessing})
	logTiles.Logger = s.logger
	return []struct {
		pattern string
		h       http.Handler
	}{
		{"GET /healthz", http.HandlerFunc(s.handleHealthz)},
		{"GET /readyz", http.HandlerFunc(s.handleReadyz)},
		{"GET /metrics", s.MetricsHandler()},

		{"POST /v1/sessions", s.authenticate(s.handleLogin)},
		{"DELETE /v1/sessions", s.authenticate(s.handleLogout)},
		{"GET /v1/jurisdictions", s.authenticate(s.handleJurisdictions)},
		{"GET /v1/residents", s.authenticate(s.handleSearchResidents)},
		{"GET /v1/roster", s.authenticate(s.handleRoster)},
		{"GET /v1/residents/{id}", s.authenticate(s.handleResident)},
		{"GET /v1/residents/{id}/code", s.authenticate(s.handleCode)},
		{"GET /v1/residents/{id}/history", s.authenticate(s.handleHistory)},
		{"GET /v1/residents/{id}/entries", s.authenticate(s.handleResidentEntries)},

		{"POST /v1/facts", s.authenticate(s.handleRecordFacts)},
		{"GET /v1/facts/pending", s.authenticate(s.handlePendingFacts)},
		{"GET /v1/facts/holds", s.authenticate(s.handleHeldDesignations)},
		{"GET /v1/facts/{key}", s.authenticate(s.handleFact)},
		{"POST /v1/facts/{key}/approve", s.authenticate(s.handleDecideFact(true))},
		{"POST /v1/facts/{key}/reject", s.authenticate(s.handleDecideFact(false))},
		{"POST /v1/facts/{key}/retract", s.authenticate(s.keyed("POST /v1/facts/{key}/retract", answerRetract, s.handleRetractFact))},
		{"POST /v1/facts/{key}/holds/{resident}/release", s.authenticate(s.handleDecideHold(true))},
		{"POST /v1/facts/{key}/holds/{resident}/refuse", s.authenticate(s.handleDecideHold(false))},

		{"GET /v1/rulesets", http.HandlerFunc(s.handleRulesets)},
		{"POST /v1/rulesets", s.authenticate(s.keyed("POST /v1/rulesets", answerDraft, s.handleDraftRuleset))},
		{"GET /v1/rulesets/{id}/{version}", s.authenticate(s.handleRuleset)},
		{"POST /v1/rulesets/{id}/{version}/approve", s.authenticate(s.handleDecideRuleset(true))},
		{"POST /v1/rulesets/{id}/{version}/refuse", s.authenticate(s.handleDecideRuleset(false))},
		{"GET /v1/jobs", s.authenticate(s.handleJobs)},

		{"POST /v1/appeals", s.authenticate(s.keyed("POST /v1/appeals", answerAppeal, s.handleFileAppeal))},
		{"GET /v1/appeals", s.authenticate(s.handleAppealQueue)},
		{"GET /v1/appeals/{id}", s.authenticate(s.handleAppeal)},
		{"GET /v1/appeals/{id}/attachments/{n}", s.authenticate(s.handleAppealAttachment)},
		{"POST /v1/appeals/{id}/consent", s.authenticate(s.handleConsentAppeal)},
		{"POST /v1/appeals/{id}/grant", s.authenticate(s.handleDecideAppeal(true))},
		{"POST /v1/appeals/{id}/deny", s.authenticate(s.handleDecideAppeal(false))},
		{"GET /v1/residents/{id}/appeals", s.authenticate(s.handleResidentAppeals)},
		{"GET /v1/residents/{id}/access", s.authenticate(s.handleAccessLog)},
		{"GET /v1/alerts", s.authenticate(s.handleAlerts)},
		{"GET /v1/logins", s.authenticate(s.handleLogins)},
		{"GET /v1/stats", http.HandlerFunc(s.handleStats)},
		{"POST /v1/officials/{id}/disable", s.authenticate(s.keyed("POST /v1/officials/{id}/disable", answerDisable, s.handleDisableOfficial))},
		{"POST /v1/residents/{id}/erase", s.authenticate(s.keyed("POST /v1/residents/{id}/erase", answerErase, s.handleEraseResident))},
		{"POST /v1/officials/{id}/enable", s.authenticate(s.keyed("POST /v1/officials/{id}/enable", answerEnable, s.handleEnableOfficial))},
		{"POST /v1/officials/{id}/password", s.authenticate(s.handleResetPassword)},
		{"POST /v1/password", s.authenticate(s.handleChangePassword)},
		{"GET /v1/residents/{id}/token", s.pageSession(s.authenticateCached(s.handleToken))},

		{"GET /v1/trust", http.HandlerFunc(s.handleTrust)},
		{"GET /v1/trust/key", http.HandlerFunc(s.handleTrustKey)},
		{"GET /v1/trust/recognised", http.HandlerFunc(s.handleTrustRecognised)},
		{"GET /v1/trust/lists/{issuer}", http.HandlerFunc(s.handleTrustImported)},

		// HTML pages (package web); sessions are cookies on store sessions.
		{"GET /{$}", s.pages.Session(s.pages.Home)},
		{"GET /login", s.pages.Session(s.pages.LoginForm)},
		{"POST /login", s.pages.Session(s.pages.Login)},
		{"POST /logout", s.pages.Session(s.pages.Logout)},
		{"GET /lang/{lang}", http.HandlerFunc(s.pages.Lang)},
		{"GET /residents/{id}", s.pages.Session(s.pages.Resident)},
		{"GET /residents/find", http.HandlerFunc(s.pages.ResidentGoto)},
		{"GET /people", s.pages.Session(s.pages.People)},
		{"GET /inbox", s.pages.Session(s.pages.Inbox)},
		{"POST /residents/{id}/appeals", s.pages.Session(s.pages.FileAppeal)},
		{"GET /appeals/{id}", s.pages.Session(s.pages.Appeal)},
		{"POST /appeals/{id}/consent", s.pages.Session(s.pages.ConsentAppeal)},
		{"POST /appeals/{id}/decide", s.pages.Session(s.pages.DecideAppeal)},
		{"GET /appeals/{id}/attachments/{n}", s.pages.Session(s.pages.AppealAttachment)},
		{"GET /command", s.pages.Session(s.pages.Command)},
		{"POST /facts/{key}/decide", s.pages.Session(s.pages.DecideFact)},
		{"POST /facts/{key}/holds/{resident}/decide", s.pages.Session(s.pages.DecideHold)},
		{"POST /rulesets/{id}/{version}/decide", s.pages.Session(s.pages.DecideRuleset)},
		{"GET /record", s.pages.Session(s.pages.RecordForm)},
		{"POST /record", s.pages.Session(s.pages.Record)},
		{"GET /rulesets", s.pages.Session(s.pages.Rulesets)},
		{"GET /rulesets/{id}/{version}", s.pages.Session(s.pages.Ruleset)},
		{"GET /rulesets/new", s.pages.Session(s.pages.RulesetDraftForm)},
		{"POST /rulesets/new", s.pages.Session(s.pages.RulesetDraft)},
		{"GET /stats", s.pages.Session(s.pages.Stats)},
		{"GET /alerts", s.pages.Session(s.pages.Alerts)},
		{"GET /explorer", s.pages.Session(s.pages.Explorer)},
		{"GET /explorer/goto", http.HandlerFunc(s.pages.ExplorerGoto)},
		{"GET /explorer/entries/{index}", s.pages.Session(s.pages.ExplorerEntry)},
		{"GET /explorer/consistency", s.pages.Session(s.pages.ExplorerConsistency)},
		{"GET /verify", s.pages.Session(s.pages.Verify)},
		{"GET /verify-sw.js", http.HandlerFunc(s.pages.ServiceWorker)},
		{"GET /static/{file}", http.HandlerFunc(s.pages.Static)},

		{"GET /log/key", http.HandlerFunc(s.handleLogKey)},
		{"GET /log/", logTiles},
		{"GET /v1/log/entries/{index}", http.HandlerFunc(s.handleLogEntry)},
		{"GET /v1/log/consistency", http.HandlerFunc(s.handleLogConsistency)},
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routeTable() {
		if rt.pattern == "GET /metrics" && s.cfg.MetricsAddr != "" {
			continue // on its own listener (ListenAndServe)
		}
		mux.Handle(rt.pattern, s.instrument(rt.pattern, s.admit(routeClass(rt.pattern), rt.h)))
	}
	unmatched := s.instrument("unmatched", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Ask the mux what it would have said, and say it in JSON.
		h, _ := mux.Handler(r)
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeJSON(w, http.StatusMethodNotAllowed, errorJSON(healthcode.EINVALID,
				"method "+r.Method+" not allowed on "+r.URL.Path+" (allowed: "+rec.header.Get("Allow")+")"))
			return
		}
		if web.WantsPage(r) {
			s.pages.NotFound(w, r)
			return
		}
		s.writeError(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "no route %s %s", r.Method, r.URL.Path))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			unmatched.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// headerRecorder captures the status and headers a handler writes.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(code int)        { h.status = code }

// Routes lists the registered API routes (method and path pattern).
func (s *Server) Routes() []Route {
	var rs []Route
	for _, rt := range s.routeTable() {
		var r Route
		for i := 0; i < len(rt.pattern); i++ {
			if rt.pattern[i] == ' ' {
				r = Route{Method: rt.pattern[:i], Path: rt.pattern[i+1:]}
				break
			}
		}
		rs = append(rs, r)
	}
	return rs
}
