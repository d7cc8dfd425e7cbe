package healthcode

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is what an account may do. Every role but resident and auditor is
// scoped to the jurisdiction subtree of the official's post.
type Role string

const (
	RoleResident Role = "resident"         // 居民
	RoleWorker   Role = "community_worker" // 社区工作人员
	RoleTracer   Role = "flow_tracer"      // 流调人员
	RoleCommand  Role = "command_officer"  // 指挥部
	RoleOperator Role = "data_operator"    // 数据局
	RoleAuditor  Role = "auditor"          // 审计
	RoleAdmin    Role = "admin"            // platform administrator
)

// Roles lists every role.
var Roles = []Role{RoleResident, RoleWorker, RoleTracer, RoleCommand, RoleOperator, RoleAuditor, RoleAdmin}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", FieldErrorf("role", "unknown role %q", s)
}

// An Official is a person with a post: a role in one jurisdiction.
type Official struct {
	ID           string // o_...
	Name         string
	Role         Role
	Jurisdiction string // code of the post
	Disabled     bool
	CreatedAt    time.Time
}

// Validate checks an official's fields.
func (o *Official) Validate() error {
	switch {
	case !validID(o.ID, "o_"):
		return FieldErrorf("id", "must look like o_ followed by 1 to 40 letters or digits")
	case utf8.RuneCountInString(strings.TrimSpace(o.Name)) == 0 || utf8.RuneCountInString(o.Name) > 64:
		return FieldErrorf("name", "must be 1 to 64 characters")
	case o.Role == RoleResident:
		return FieldErrorf("role", "a resident is not an official")
	}
	if _, err := ParseRole(string(o.Role)); err != nil {
		return err
	}
	if _, err := LevelOf(o.Jurisdiction); err != nil {
		return FieldErrorf("jurisdiction", "%s", ErrorMessage(err))
	}
	return nil
}

// A Source is a registered data source (a lab, the vaccination registry, an
// itinerary feed). It submits facts of its registered kinds with an API key.
type Source struct {
	ID           string // s_...
	Name         string
	Kinds        []string // fact kinds it may submit
	Jurisdiction string   // the area it serves
	Disabled     bool
	CreatedAt    time.Time
}

// Validate checks a source's fields.
func (s *Source) Validate() error {
	switch {
	case !validID(s.ID, "s_"):
		return FieldErrorf("id", "must look like s_ followed by 1 to 40 letters or digits")
	case utf8.RuneCountInString(strings.TrimSpace(s.Name)) == 0 || utf8.RuneCountInString(s.Name) > 64:
		return FieldErrorf("name", "must be 1 to 64 characters")
	case len(s.Kinds) == 0:
		return FieldErrorf("kinds", "a source must be registered for at least one fact kind")
	}
	if _, err := LevelOf(s.Jurisdiction); err != nil {
		return FieldErrorf("jurisdiction", "%s", ErrorMessage(err))
	}
	return nil
}

// Allowed reports whether the source is registered for kind.
func (s *Source) Allowed(kind string) bool {
	for _, k := range s.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Actor is the party a request acts for. It travels in the context; the
// service layer decides authorisation from it in one place.
type Actor struct {
	Kind         string // "official", "resident", "source", "system", or "" for the public
	ID           string // official, resident or source id; job id for the system
	Name         string
	Role         Role   // the official's role (RoleResident for residents)
	Jurisdiction string // the official's post, the resident's home, the source's area
}

// Actor kinds.
const (
	ActorOfficial = "official"
	ActorResident = "resident"
	ActorSource   = "source"
	ActorSystem   = "system"
)

type actorKey struct{}

// NewContext returns a context carrying the actor.
func NewContext(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx, or the zero Actor (the public).
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}
