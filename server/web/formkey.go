package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"slices"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/store"
)

// Page forms that create (an appeal, a ruleset draft, a hand-entered
// fact) are safe to submit twice. Each rendering of such a form carries
// a fresh random key in a hidden field (formKeyField, page.FormKey); the
// handler passes it to the store as the create's Idempotency-Key (a
// store.Claim, kept with the answer in the create's own transaction, as
// the API's keyed routes do), or, for a fact, as the fact's id (which the
// store deduplicates). A second submit of the same rendered form (a double
// click, a reload of the result, a retry after a lost answer) gets the
// page of the first, and nothing is created twice; the same form sent
// again with other values says so in the page's words.

// formKeyField is the hidden field holding a form's key.
const formKeyField = "form_key"

// formKeyBytes is a key's random length: 128 bits, as hex.
const formKeyBytes = 16

// newFormKey returns a fresh form key from the pages' randomness.
func (p *Pages) newFormKey() (string, error) {
	b := make([]byte, formKeyBytes)
	src := p.opts.Rand
	if src == nil {
		src = rand.Reader
	}
	if _, err := io.ReadFull(src, b); err != nil {
		return "", fmt.Errorf("new form key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// FormKey returns a fresh key for one form of the page: each call
// another, so two forms of one page (or two renderings) never share one.
func (pg *page) FormKey() (string, error) {
	if pg.newKey == nil {
		return "", errors.New("page has no form keys")
	}
	return pg.newKey()
}

// postedFormKey is the key of the posted form, "" if it carries none (a
// form rendered before keys, or a script): an EINVALID error if it is not
// one the pages render.
func postedFormKey(r *http.Request) (string, error) {
	vals := r.PostForm[formKeyField]
	if len(vals) == 0 || vals[0] == "" {
		return "", nil
	}
	k := vals[0]
	if len(vals) > 1 {
		return "", healthcode.FieldErrorf(formKeyField, "is given more than once")
	}
	if b, err := hex.DecodeString(k); err != nil || len(b) != formKeyBytes {
		return "", healthcode.FieldErrorf(formKeyField, "must be %d hexadecimal digits", 2*formKeyBytes)
	}
	return k, nil
}

// formFingerprint hashes what a posted form asks for: the route, the
// path and every field and file but the CSRF token and the key itself
// (a form sent again from another tab of the same session is the same
// request).
func formFingerprint(route string, r *http.Request) string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s\n", len(s), s) } // a hash never fails
	field(route)
	field(r.URL.Path)
	names := make([]string, 0, len(r.PostForm))
	for k := range r.PostForm {
		if k != "csrf" && k != formKeyField {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		field(k)
		for _, v := range r.PostForm[k] {
			field(v)
		}
	}
	if r.MultipartForm != nil {
		files := make([]string, 0, len(r.MultipartForm.File))
		for k := range r.MultipartForm.File {
			files = append(files, k)
		}
		slices.Sort(files)
		for _, k := range files {
			field(k)
			for _, fh := range r.MultipartForm.File[k] {
				field(fh.Filename)
				field(fileDigest(fh))
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileDigest is the SHA-256 of an uploaded file, or the error reading it
// (which fails the request anyway).
func fileDigest(fh *multipart.FileHeader) string {
	f, err := fh.Open()
	if err != nil {
		return "error: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "error: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}

// withFormClaim returns r's context carrying the claim of its form key
// for route (as in the route table), keeping as the answer the JSON of
// what answer makes of the store method's result; r's own context if the
// form carries no key.
func withFormClaim(r *http.Request, route string, answer func(result any) any) (context.Context, error) {
	key, err := postedFormKey(r)
	if err != nil || key == "" {
		return r.Context(), err
	}
	fp := formFingerprint(route, r)
	return store.WithClaim(r.Context(), &store.Claim{
		Key: key, Route: route,
		Fingerprint: func() string { return fp },
		Answer: func(v any) (int, []byte, error) {
			b, err := json.Marshal(answer(v))
			return http.StatusOK, b, err
		},
	}), nil
}

// errFormResent is what a page says of a form sent again with other
// values than the first time: the first was done, once.
var errFormResent = healthcode.Errorf(healthcode.ECONFLICT, "this form was already sent, with other values: open the form again to send another")

// replayedForm reports whether err is the store's answer to a form sent
// before: with the same values, *store.Replayed, whose kept answer it
// decodes into v; with other values, errFormResent.
func replayedForm(err error, v any) (bool, error) {
	var rep *store.Replayed
	var reused *store.KeyReused
	switch {
	case errors.As(err, &rep):
		if err := json.Unmarshal(rep.Body, v); err != nil {
			return true, fmt.Errorf("read the answer kept for a form sent before: %w", err)
		}
		return true, nil
	case errors.As(err, &reused):
		return true, errFormResent
	}
	return false, err
}
