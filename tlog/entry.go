// Package tlog is the library side of healthcode's transparency log: the
// canonical encoding of log entries, commitments to personal data that may
// later be erased, signed checkpoints (C2SP tlog-checkpoint), serving the log
// over HTTP in the C2SP tlog-tiles layout, and the client side that proves
// inclusion, checks consistency and monitors a log for forks and rollbacks.
// It also holds witnessing: witness policies (K of N) that verifiers
// require, the C2SP tlog-witness add-checkpoint client, and a witness
// server (WitnessServer) that cosigns other logs' checkpoints.
//
// The Merkle tree itself, its hashes and proofs, are golang.org/x/mod's
// sumdb/tlog (imported here as sumtlog); nothing in this package hashes
// tree nodes by hand. The store keeps entries and stored hashes in its
// database and appends them in the same transaction as the state change.
//
// This package imports only the standard library, golang.org/x/mod/sumdb/tlog,
// golang.org/x/mod/sumdb/note, github.com/transparency-dev/formats/note (the
// C2SP tlog-cosignature signatures), the root healthcode package and
// internal/atomicfile (standard library only). See
// docs/log.md for the formats.
package tlog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/healthcode/healthcode"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// MaxEntrySize is the largest encoded entry, in bytes. It is the largest
// length a C2SP entry bundle can carry (a big-endian uint16).
const MaxEntrySize = 65535

// maxIDLen bounds actor ids, posts and subjects.
const maxIDLen = 256

// The first line of every encoded entry names its version. Leaves written
// before the v2 migration stay v1 (they are immutable); new leaves are v2.
const (
	entryVersion   = "healthcode/log/v1"
	entryVersionV2 = "healthcode/log/v2"
)

// Entry versions (Entry.Version). The zero value means V1.
const (
	V1 = 1
	// V2 leaves name no one: no subject line and no chain link; the
	// subject, the link and the personal fields are in the personal part
	// (PersonalPart), committed by the personal line. The jurisdiction is
	// the resident's county at most.
	V2 = 2
)

// TimeFormat is the layout of an entry's time line: UTC, always three
// fractional digits.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Kind is what an entry records.
type Kind string

// The kinds of log entry. Adding a kind is a change to this list and to
// docs/log.md; ParseEntry rejects any other kind.
const (
	KindFactRecorded        Kind = "fact.recorded"
	KindFactApproved        Kind = "fact.approved"
	KindFactRejected        Kind = "fact.rejected"
	KindFactRetracted       Kind = "fact.retracted"
	KindFactHeldFor         Kind = "fact.held_for"
	KindFactReleasedFor     Kind = "fact.released_for"
	KindFactRefusedFor      Kind = "fact.refused_for"
	KindRulesetDrafted      Kind = "ruleset.drafted"
	KindRulesetApproved     Kind = "ruleset.approved"
	KindRulesetPublished    Kind = "ruleset.published"
	KindRulesetRefused      Kind = "ruleset.refused"
	KindRulesetWithdrawn    Kind = "ruleset.withdrawn"
	KindCodeChanged         Kind = "code.changed"
	KindEvalFailed          Kind = "evaluation.failed"
	KindKeyAdded            Kind = "key.added"
	KindKeyRotated          Kind = "key.rotated"
	KindKeyRevoked          Kind = "key.revoked"
	KindTrustImported       Kind = "trust.imported"
	KindOfficialCreated     Kind = "official.created"
	KindOfficialDisabled    Kind = "official.disabled"
	KindOfficialDisableReq  Kind = "official.disable_requested"
	KindOfficialEnabled     Kind = "official.enabled"
	KindPasswordChanged     Kind = "official.password_changed"
	KindPasswordResetReq    Kind = "official.password_reset_requested"
	KindPasswordReset       Kind = "official.password_reset"
	KindSourceCreated       Kind = "source.created"
	KindSourceDisabled      Kind = "source.disabled"
	KindJurisdictionCreated Kind = "jurisdiction.created"
	KindResidentRegistered  Kind = "resident.registered"
	KindAppealFiled         Kind = "appeal.filed"
	KindAppealDecided       Kind = "appeal.decided"
	KindAppealEscalated     Kind = "appeal.escalated"
	KindAppealConsented     Kind = "appeal.consented"
	KindDataAccessed        Kind = "data.accessed"
	KindAlertRaised         Kind = "alert.raised"
	KindJobStarted          Kind = "job.started"
	KindJobProgressed       Kind = "job.progressed"
	KindJobFinished         Kind = "job.finished"
	KindLogEraseRequested   Kind = "log.erase_requested"
	KindLogErased           Kind = "log.erased"
	KindLogContinued        Kind = "log.continued"
)

var kinds = map[Kind]bool{
	KindFactRecorded: true, KindFactApproved: true, KindFactRejected: true, KindFactRetracted: true,
	KindFactHeldFor: true, KindFactReleasedFor: true, KindFactRefusedFor: true,
	KindRulesetDrafted: true, KindRulesetApproved: true, KindRulesetPublished: true, KindRulesetRefused: true, KindRulesetWithdrawn: true,
	KindCodeChanged: true, KindEvalFailed: true,
	KindKeyAdded: true, KindKeyRotated: true, KindKeyRevoked: true, KindTrustImported: true,
	KindOfficialCreated: true, KindOfficialDisabled: true, KindOfficialDisableReq: true, KindOfficialEnabled: true,
	KindPasswordChanged: true, KindPasswordResetReq: true, KindPasswordReset: true,
	KindSourceCreated: true, KindSourceDisabled: true,
	KindJurisdictionCreated: true, KindResidentRegistered: true,
	KindAppealFiled: true, KindAppealDecided: true, KindAppealEscalated: true, KindAppealConsented: true,
	KindDataAccessed: true, KindAlertRaised: true,
	KindJobStarted: true, KindJobProgressed: true, KindJobFinished: true,
	KindLogEraseRequested: true, KindLogErased: true, KindLogContinued: true,
}

// Kinds returns every known kind, in the order of docs/log.md.
func Kinds() []Kind {
	return []Kind{
		KindFactRecorded, KindFactApproved, KindFactRejected, KindFactRetracted,
		KindFactHeldFor, KindFactReleasedFor, KindFactRefusedFor,
		KindRulesetDrafted, KindRulesetApproved, KindRulesetPublished, KindRulesetRefused, KindRulesetWithdrawn, KindCodeChanged, KindEvalFailed,
		KindKeyAdded, KindKeyRotated, KindKeyRevoked, KindTrustImported,
		KindOfficialCreated, KindOfficialDisableReq, KindOfficialDisabled, KindOfficialEnabled,
		KindPasswordChanged, KindPasswordResetReq, KindPasswordReset, KindSourceCreated, KindSourceDisabled,
		KindJurisdictionCreated, KindResidentRegistered,
		KindAppealFiled, KindAppealConsented, KindAppealDecided, KindAppealEscalated,
		KindDataAccessed, KindAlertRaised,
		KindJobStarted, KindJobProgressed, KindJobFinished, KindLogEraseRequested, KindLogErased, KindLogContinued,
	}
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return kinds[k] }

// Actor kinds.
const (
	ActorOfficial = "official"
	ActorSource   = "source"
	ActorResident = "resident"
	ActorSystem   = "system"
)

// SelfActor is the actor.id of a v2 leaf about a resident whose actor is
// that resident (an appeal they file, a consent they give): the leaf must
// not name them, so its actor is "self", and the personal part's subject
// is the actor (OpenActor).
const SelfActor = "self"

// OpenActor sets the actor of an opened v2 entry whose leaf's actor is
// SelfActor to its subject.
func (e *Entry) OpenActor() {
	if e.Actor.Kind == ActorResident && e.Actor.ID == SelfActor && e.Subject != "" {
		e.Actor.ID = e.Subject
	}
}

// Actor is who caused an entry. Post is the jurisdiction code of an
// official's post; it is set for officials and empty for everyone else.
type Actor struct {
	Kind string // ActorOfficial, ActorSource, ActorResident or ActorSystem
	ID   string
	Post string
}

// Entry is one log entry. Its encoding (MarshalText) is the leaf data of the
// Merkle tree; see docs/log.md.
//
// In a V2 entry, Subject and Prev are not part of the leaf: they are what
// its opened personal part (PersonalPart) says, set by whoever opened it,
// and empty after ParseEntry. County is a V2 line: the subject's county
// (or coarser), or empty.
type Entry struct {
	Version  int // V1 (or 0) or V2
	Index    int64
	Time     time.Time // UTC, millisecond precision
	Kind     Kind
	Actor    Actor
	County   string          // V2: jurisdiction code of the subject, no finer than county; or ""
	Subject  string          // resident pseudonymous id, or ""
	Prev     sumtlog.Hash    // leaf hash of the subject's previous entry; zero if none or no subject
	Personal sumtlog.Hash    // commitment to the personal part kept outside the leaf; zero if none
	Payload  json.RawMessage // public part, compact JSON object, never personal data
}

// V2 reports whether e is encoded in the v2 format.
func (e *Entry) V2() bool { return e.Version == V2 }

// Validate reports the first field of e that cannot be encoded canonically,
// as a *healthcode.Error of code EINVALID naming the field.
func (e *Entry) Validate() error {
	if err := e.validateHeader(); err != nil {
		return err
	}
	return checkPayload(e.Payload)
}

// validateHeader is Validate for every field but the payload.
func (e *Entry) validateHeader() error {
	if e.Index < 0 {
		return healthcode.FieldErrorf("index", "must not be negative")
	}
	if e.Time.IsZero() {
		return healthcode.FieldErrorf("time", "is missing")
	}
	if y := e.Time.UTC().Year(); y < 1970 || y > 9999 {
		return healthcode.FieldErrorf("time", "year %d is outside 1970-9999", y)
	}
	if e.Time.Nanosecond()%int(time.Millisecond) != 0 {
		return healthcode.FieldErrorf("time", "must have millisecond precision (use t.UTC().Truncate(time.Millisecond))")
	}
	if !e.Kind.Valid() {
		return healthcode.FieldErrorf("kind", "unknown kind %q", e.Kind)
	}
	switch e.Actor.Kind {
	case ActorOfficial:
		if err := checkID("actor.post", e.Actor.Post); err != nil {
			return err
		}
	case ActorSource, ActorResident, ActorSystem:
		if e.Actor.Post != "" {
			return healthcode.FieldErrorf("actor.post", "must be empty for actor kind %q", e.Actor.Kind)
		}
	default:
		return healthcode.FieldErrorf("actor.kind", "unknown actor kind %q", e.Actor.Kind)
	}
	if err := checkID("actor.id", e.Actor.ID); err != nil {
		return err
	}
	switch e.Version {
	case 0, V1:
		if e.County != "" {
			return healthcode.FieldErrorf("county", "is a v2 line")
		}
	case V2:
		if err := checkCounty(e.County); err != nil {
			return err
		}
		if e.Subject != "" && e.Personal == (sumtlog.Hash{}) {
			return healthcode.FieldErrorf("personal", "is missing: a v2 entry about a subject commits to it in its personal part")
		}
	default:
		return healthcode.FieldErrorf("version", "unknown version %d", e.Version)
	}
	if e.Subject != "" {
		if err := checkID("subject", e.Subject); err != nil {
			return err
		}
	} else if e.Prev != (sumtlog.Hash{}) {
		return healthcode.FieldErrorf("prev", "must be zero when there is no subject")
	}
	return nil
}

// checkCounty accepts "" or a division code of 2, 4 or 6 digits: no
// finer than a county.
func checkCounty(c string) error {
	if c == "" {
		return nil
	}
	if len(c) > 6 || len(c)%2 != 0 {
		return healthcode.FieldErrorf("county", "must be a division code no finer than a county (at most 6 digits)")
	}
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' {
			return healthcode.FieldErrorf("county", "must be digits only")
		}
	}
	return nil
}

// checkPayload checks that p is empty or a compact JSON object.
func checkPayload(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if !utf8.Valid(p) {
		return healthcode.FieldErrorf("payload", "is not valid JSON")
	}
	if p[0] != '{' {
		return healthcode.FieldErrorf("payload", "must be a JSON object")
	}
	if !json.Valid(p) {
		return healthcode.FieldErrorf("payload", "is not valid JSON")
	}
	if !compact(p) {
		return healthcode.FieldErrorf("payload", "must be compact JSON (use json.Compact)")
	}
	return nil
}

// Payload is an entry's payload that CheckPayload found to be a compact
// JSON object (or empty), so that MarshalTextWith need not check it again:
// a writer can check payloads before it takes the log's lock.
type Payload struct{ b []byte }

// CheckPayload checks p as MarshalText checks an entry's payload.
func CheckPayload(p []byte) (Payload, error) {
	if err := checkPayload(p); err != nil {
		return Payload{}, err
	}
	return Payload{p}, nil
}

// MarshalPayload encodes v, a struct or map, as a payload with
// encoding/json, checking only what Marshal does not guarantee: that it is
// an object, and valid UTF-8. Marshal's output is valid, compact JSON (it
// validates and compacts what RawMessages and MarshalJSON methods give),
// so parsing it again, as CheckPayload does, would only cost its time; but
// it replaces invalid UTF-8 only in the strings it encodes itself, not in
// raw JSON (FuzzMarshalPayload found one).
func MarshalPayload(v any) (Payload, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Payload{}, err
	}
	if !utf8.Valid(b) {
		return Payload{}, healthcode.FieldErrorf("payload", "is not valid JSON")
	}
	if b[0] != '{' {
		return Payload{}, healthcode.FieldErrorf("payload", "must be a JSON object")
	}
	return Payload{b}, nil
}

// Bytes returns the checked payload.
func (p Payload) Bytes() []byte { return p.b }

// MarshalTextWith is MarshalText for e with payload p (it sets e.Payload),
// which is already checked.
func (e *Entry) MarshalTextWith(p Payload) ([]byte, error) {
	e.Payload = p.b
	if err := e.validateHeader(); err != nil {
		return nil, err
	}
	return e.encode()
}

// compact reports whether valid JSON has no whitespace outside strings,
// that is, whether json.Compact would leave it as it is.
func compact(valid []byte) bool {
	in, esc := false, false
	for _, c := range valid {
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return true
}

// checkID accepts 1 to 256 printable ASCII characters other than space.
func checkID(field, s string) error {
	if s == "" {
		return healthcode.FieldErrorf(field, "is missing")
	}
	if len(s) > maxIDLen {
		return healthcode.FieldErrorf(field, "is longer than %d bytes", maxIDLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return healthcode.FieldErrorf(field, "must be printable ASCII without spaces")
		}
	}
	return nil
}

// MarshalText returns the canonical encoding of e: the leaf data of the log.
// It fails with a *healthcode.Error (EINVALID) if e does not validate or the
// encoding is longer than MaxEntrySize.
func (e *Entry) MarshalText() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e.encode()
}

// encode is MarshalText for a valid e.
func (e *Entry) encode() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(e.Payload) + 256)
	line := func(key, value string) {
		b.WriteString(key)
		if value != "" {
			b.WriteByte(' ')
			b.WriteString(value)
		}
		b.WriteByte('\n')
	}
	if e.V2() {
		line(entryVersionV2, "")
	} else {
		line(entryVersion, "")
	}
	line("index", strconv.FormatInt(e.Index, 10))
	line("time", e.Time.UTC().Format(TimeFormat))
	line("kind", string(e.Kind))
	line("actor.kind", e.Actor.Kind)
	line("actor.id", e.Actor.ID)
	line("actor.post", e.Actor.Post)
	if e.V2() {
		line("county", e.County)
	} else {
		line("subject", e.Subject)
		line("prev", hashText(e.Prev))
	}
	line("personal", hashText(e.Personal))
	payload := string(e.Payload)
	if payload == "" {
		payload = "{}"
	}
	line("payload", payload)
	if b.Len() > MaxEntrySize {
		return nil, healthcode.FieldErrorf("payload", "entry is %d bytes, more than %d", b.Len(), MaxEntrySize)
	}
	return b.Bytes(), nil
}

// hashText is the base64 of h, or "" for the zero hash.
func hashText(h sumtlog.Hash) string {
	if h == (sumtlog.Hash{}) {
		return ""
	}
	return base64.StdEncoding.EncodeToString(h[:])
}

// LeafHash returns the Merkle leaf hash of e: sumtlog.RecordHash of its
// encoding. It is what a later entry of the same subject puts in Prev
// (in a v2 entry, in its personal part).
func (e *Entry) LeafHash() (sumtlog.Hash, error) {
	data, err := e.MarshalText()
	if err != nil {
		return sumtlog.Hash{}, err
	}
	return sumtlog.RecordHash(data), nil
}

// ParseEntry decodes an encoded entry. It is strict: it accepts only the
// canonical encoding, so that MarshalText of the result gives back exactly
// data. Errors are *healthcode.Error of code EINVALID.
func ParseEntry(data []byte) (*Entry, error) {
	if len(data) > MaxEntrySize {
		return nil, healthcode.Errorf(healthcode.EINVALID, "entry is %d bytes, more than %d", len(data), MaxEntrySize)
	}
	if !utf8.Valid(data) {
		return nil, healthcode.Errorf(healthcode.EINVALID, "entry is not valid UTF-8")
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, healthcode.Errorf(healthcode.EINVALID, "entry does not end in a newline")
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	version := V1
	keys := keysV1
	if len(lines) > 0 && lines[0] == entryVersionV2 {
		version, keys = V2, keysV2
	}
	if len(lines) != len(keys) {
		return nil, healthcode.Errorf(healthcode.EINVALID, "entry has %d lines, want %d", len(lines), len(keys))
	}
	v := make(map[string]string, len(keys))
	for i, key := range keys {
		l := lines[i]
		if l == key {
			continue
		}
		rest, ok := strings.CutPrefix(l, key+" ")
		if !ok {
			return nil, healthcode.Errorf(healthcode.EINVALID, "line %d: want key %q", i+1, key)
		}
		v[key] = rest
	}
	if v[keys[0]] != "" {
		return nil, healthcode.Errorf(healthcode.EINVALID, "line 1: unknown version")
	}
	e := &Entry{
		Version: version,
		Kind:    Kind(v["kind"]),
		Actor:   Actor{Kind: v["actor.kind"], ID: v["actor.id"], Post: v["actor.post"]},
		County:  v["county"],
		Subject: v["subject"],
		Payload: json.RawMessage(v["payload"]),
	}
	if version == V1 {
		e.Version = 0 // the zero value means V1, so that re-encoding is the same
	}
	var err error
	if e.Index, err = strconv.ParseInt(v["index"], 10, 64); err != nil {
		return nil, healthcode.FieldErrorf("index", "not a decimal number")
	}
	if e.Time, err = time.Parse(TimeFormat, v["time"]); err != nil {
		return nil, healthcode.FieldErrorf("time", "not in the format %s", TimeFormat)
	}
	if e.Prev, err = parseHashText(v["prev"]); err != nil {
		return nil, healthcode.FieldErrorf("prev", "%v", err)
	}
	if e.Personal, err = parseHashText(v["personal"]); err != nil {
		return nil, healthcode.FieldErrorf("personal", "%v", err)
	}
	enc, err := e.MarshalText()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(enc, data) {
		return nil, healthcode.Errorf(healthcode.EINVALID, "entry is not in canonical form")
	}
	return e, nil
}

// The lines of each version, in order.
var (
	keysV1 = []string{entryVersion, "index", "time", "kind", "actor.kind", "actor.id", "actor.post", "subject", "prev", "personal", "payload"}
	keysV2 = []string{entryVersionV2, "index", "time", "kind", "actor.kind", "actor.id", "actor.post", "county", "personal", "payload"}
)

// parseHashText parses base64 of a 32-byte hash; "" is the zero hash.
// Non-canonical forms are caught by ParseEntry's re-encoding check.
func parseHashText(s string) (sumtlog.Hash, error) {
	var h sumtlog.Hash
	if s == "" {
		return h, nil
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, healthcode.Errorf(healthcode.EINVALID, "not the base64 of a 32-byte hash")
	}
	copy(h[:], b)
	return h, nil
}
