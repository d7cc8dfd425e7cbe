// Package web is healthcode's browser face: server-rendered pages for
// residents, the public log explorer and the checkpoint verifier. Templates
// and static assets are embedded and parsed once at start-up; every page is
// rendered into a buffer first, so a failure never sends half a page; every
// user-visible string comes from the message catalogue (zh-CN by default,
// and en), chosen by a cookie that the language switch on every page sets.
//
// Routes are registered by package server in routes.go; this package only
// provides the handlers. It imports the domain packages, store and tlog,
// never package server: what it needs from the API layer (the error
// code→status table, request ids) comes in through Options.
package web

import (
	"bytes"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
	"github.com/healthcode/healthcode/tlog"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DemoLogin is a demo account shown on the start page in demo mode, so a
// visitor can log in with one click.
type DemoLogin struct {
	Login, Password string
	Name            string // person's name
	Role            string // healthcode.Role, e.g. "resident", "command_officer"
}

// Options configure the pages.
type Options struct {
	Logger     *slog.Logger
	Demo       bool
	DemoLogins []DemoLogin
	// Status maps an error code (healthcode.EINVALID, ...) to the HTTP
	// status the API uses for it, so pages and API agree.
	Status func(code string) int
	// Fault counts a page answered 503 for a database fault (store.Fault
	// names it); nil: not counted.
	Fault func(fault string)
	// NoteActor tells the server the actor of a request's session, for
	// its log lines (which carry the request id and actor: the Logger's
	// handler adds them from the context).
	NoteActor func(r *http.Request, a healthcode.Actor)
	// ClientAddr returns the address a request comes from, for
	// per-address login limits; nil means the peer's address.
	ClientAddr func(r *http.Request) string
	// Tokens reports whether the server issues tokens
	// (GET /v1/residents/{id}/token), so the resident page shows its QR
	// image only when it can load.
	Tokens func() bool
	// Rand is the source of CSRF tokens; nil means crypto/rand.
	Rand io.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// HTTPS: the site is published at an https URL, so its session and
	// CSRF cookies are Secure and __Host- prefixed (SessionCookieName).
	HTTPS bool
	// Witnesses returns the server's witness policy, nil without
	// witnessing: the explorer then shows the newest checkpoint whose
	// cosignatures met it, and its script requires them (logverify.js).
	Witnesses func() *tlog.Policy
	// Hotline is the telephone number the resident page gives under a
	// yellow or red code (default DefaultHotline); Office is the office
	// responsible for codes, named there ("" names the epidemic-prevention
	// command of the resident's county, in the page's language).
	Hotline, Office string
	// TimeZone is the one zone in which pages show every time and read
	// their forms' date-time fields; nil means DefaultTimeZone. The store
	// keeps UTC.
	TimeZone *time.Location
}

// DefaultHotline is the government service hotline, 12345.
const DefaultHotline = "12345"

// Pages holds the parsed templates and what handlers share.
type Pages struct {
	db         *store.DB
	opts       Options
	log        *slog.Logger
	pages      map[string]*template.Template
	static     map[string]string // file name → content hash, for cache busting
	statsCache statsCache
}

// New parses the embedded templates. It fails only on a broken template,
// which the package tests catch.
func New(db *store.DB, opts Options) (*Pages, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Status == nil {
		opts.Status = func(string) int { return http.StatusInternalServerError }
	}
	if opts.NoteActor == nil {
		opts.NoteActor = func(*http.Request, healthcode.Actor) {}
	}
	if opts.Witnesses == nil {
		opts.Witnesses = func() *tlog.Policy { return nil }
	}
	if opts.Hotline == "" {
		opts.Hotline = DefaultHotline
	}
	if opts.TimeZone == nil {
		opts.TimeZone = defaultZone()
	}
	if opts.Tokens == nil {
		opts.Tokens = func() bool { return false }
	}
	p := &Pages{db: db, opts: opts, log: opts.Logger, statsCache: newStatsCache()}
	var err error
	if p.static, err = hashStatic(); err != nil {
		return nil, err
	}
	if p.pages, err = parseTemplates(p.funcs()); err != nil {
		return nil, err
	}
	return p, nil
}

// PageNames lists the page templates, for tests.
func (p *Pages) PageNames() []string {
	var names []string
	for n := range p.pages {
		names = append(names, n)
	}
	return names
}

// parseTemplates parses layout.html and the partials (partial_*.html: blocks
// that pages include, like the resident page's outlook) with each other
// template into its own set, so every page defines "content" and "title"
// independently.
func parseTemplates(funcs template.FuncMap) (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partial_*.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*template.Template)
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "partial_") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		out[name] = t
	}
	return out, nil
}

func (p *Pages) funcs() template.FuncMap {
	return template.FuncMap{
		"static": func(name string) (string, error) {
			h, ok := p.static[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return "/static/" + name + "?v=" + h, nil
		},
		"explain":    func(pg *page, ex *store.Explanation) explainArgs { return explainArgs{Page: pg, Ex: ex} },
		"inc":        func(i int64) int64 { return i + 1 },
		"peopleArgs": func(pg *page, ps []healthcode.Person) peopleArgs { return peopleArgs{Page: pg, People: ps} },
		"inc1":       func(i int) int { return i + 1 },
		"dec1":       func(i int) int { return i - 1 },
		"dec":        func(i int64) int64 { return i - 1 },
		// local writes a time in the pages' one zone and format; the
		// zone is named once per page (the footer). utc and utcshort
		// are its old names, kept for templates written before.
		"local":    p.localTime,
		"utc":      p.localTime,
		"utcshort": p.localTime,
	}
}

// explainArgs lets the "explanation" template see the page (for T) and
// one explanation.
type explainArgs struct {
	Page *page
	Ex   *store.Explanation
}

// peopleArgs lets the "people-list" template see the page and the list.
type peopleArgs struct {
	Page   *page
	People []healthcode.Person
}

// page is what every template gets. Data is the page's own content.
type page struct {
	Lang     string
	Name     string // template name, also the body's class
	Path     string // the request path and query, for the language switch
	Actor    healthcode.Actor
	CSRF     string
	Demo     bool
	Zone     string            // the time zone's name, for the page's one mention of it
	Unread   int               // a resident's unread inbox items, for the badge
	Messages map[string]string // strings for scripts, when Scripts asks
	Data     any
	newKey   func() (string, error) // a fresh form key (FormKey)
}

// T returns the message for key in the page's language, formatted with
// args. A key missing from the catalogue is an error, so the template fails
// (and the tests with it) rather than showing a key to a person.
func (pg *page) T(key string, args ...any) (string, error) {
	return translate(pg.Lang, key, args...)
}

// Or returns the message for key, or fallback if the catalogue has none:
// for values the catalogue may not know yet (a new cause or status).
func (pg *page) Or(key, fallback string) string {
	if msg, ok := catalogue[pg.Lang][key]; ok {
		return msg
	}
	return fallback
}

// Colour returns a colour's label in the page's language: 绿码, Green code.
func (pg *page) Colour(c healthcode.Colour) string { return c.Label(pg.Lang) }

// LoggedIn reports whether a person is logged in.
func (pg *page) LoggedIn() bool { return pg.Actor.Kind != "" }

// newPage fills in what every page carries.
func (p *Pages) newPage(w http.ResponseWriter, r *http.Request, name string, data any) *page {
	return &page{
		Lang:   langOf(r),
		Name:   name,
		Path:   r.URL.RequestURI(),
		Actor:  healthcode.ActorFrom(r.Context()),
		CSRF:   p.csrfToken(w, r),
		Demo:   p.opts.Demo,
		Zone:   p.zoneName(),
		Data:   data,
		newKey: p.newFormKey,
	}
}

// render executes a page into a buffer and only then writes it.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, pg *page) {
	var buf bytes.Buffer
	t, ok := p.pages[pg.Name]
	if !ok {
		p.fail(w, r, fmt.Errorf("no page template %q", pg.Name))
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", pg); err != nil {
		p.fail(w, r, fmt.Errorf("render %s: %w", pg.Name, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Language", pg.Lang)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// csp allows only the server's own scripts, styles and images, and the
// camera stream of the verifier.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob: mediastream:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// fail renders a rendering failure without its details: an internal error.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	p.log.ErrorContext(r.Context(), "page failed", "path", r.URL.Path, "err", err)
	http.Error(w, "internal error / 内部错误", http.StatusInternalServerError)
}

type errorData struct {
	Status  int
	Code    string
	Message pageError // what was wrong, in the page's language (none for 403 and 5xx)
}

// error renders err as a friendly page with the API's status for its code.
// EUNAUTH sends the visitor to the login page instead.
func (p *Pages) error(w http.ResponseWriter, r *http.Request, err error) {
	err = store.DescribeError(err) // a full disk or a database restarting: 503, not 500
	if f := store.Fault(err); f != "" && p.opts.Fault != nil {
		p.opts.Fault(f)
	}
	code := healthcode.ErrorCode(err)
	if code == healthcode.EUNAUTH && r.Method == http.MethodGet {
		p.clearSession(w, r)
		http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	status := p.opts.Status(code)
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(healthcode.RetryAfterSeconds(err)))
	}
	msg := errorText(langOf(r), err)
	switch status {
	case http.StatusInternalServerError, http.StatusServiceUnavailable:
		p.log.ErrorContext(r.Context(), "page failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = pageError{}
	case http.StatusForbidden:
		p.log.WarnContext(r.Context(), "page denied", "path", r.URL.Path)
		msg = pageError{}
	}
	// A code withheld because its row differs from the log says so.
	var ie *store.IntegrityError
	if errors.As(err, &ie) {
		code = "integrity"
	}
	p.render(w, r, status, p.newPage(w, r, "error", errorData{Status: status, Code: code, Message: msg}))
}

// NotFound renders the friendly 404 page.
func (p *Pages) NotFound(w http.ResponseWriter, r *http.Request) {
	p.error(w, r, healthcode.Errorf(healthcode.ENOTFOUND, "no page %s", r.URL.Path))
}

// WantsPage reports whether a request the server has no route for came
// from a browser asking for a page (not the API or the log's tiles), so
// the answer should be the friendly HTML 404 rather than JSON.
func WantsPage(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/log/") {
		return false
	}
	return r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html")
}
