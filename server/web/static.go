package web

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// hashStatic hashes every static file, so pages link to
// /static/NAME?v=HASH and the files can be cached for a year.
func hashStatic() (map[string]string, error) {
	out := make(map[string]string)
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		out[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(h[:6])
		return nil
	})
	return out, err
}

// ServiceWorker serves the verifier's service worker (static/verify-sw.js)
// from the site's root, so it may control /verify. It is never cached
// long: browsers check it for updates.
func (p *Pages) ServiceWorker(w http.ResponseWriter, r *http.Request) {
	b, err := staticFS.ReadFile("static/verify-sw.js")
	if err != nil {
		p.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}

// Static serves the embedded CSS, JavaScript and images. A request naming
// the current hash (?v=) may be cached for a year; others for five minutes.
func (p *Pages) Static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	hash, ok := p.static[name]
	if !ok {
		p.NotFound(w, r)
		return
	}
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		p.NotFound(w, r)
		return
	}
	h := w.Header()
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		h.Set("Content-Type", ct)
	}
	if r.URL.Query().Get("v") == hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	h.Set("ETag", `"`+hash+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == `"`+hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(b)
}
