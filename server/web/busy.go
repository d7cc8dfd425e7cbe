package web

import (
	"html"
	"net/http"
	"strconv"
)

// busyPages are the page a shed request is answered with, by language,
// made once: answering it costs no template and no lookup.
var busyPages = func() map[string][]byte {
	out := map[string][]byte{}
	for _, l := range Langs {
		title, err1 := translate(l, "error.title")
		msg, err2 := translate(l, "error.unavailable")
		if err1 != nil || err2 != nil {
			panic("busy page: " + l + ": the catalogue lacks error.title or error.unavailable")
		}
		out[l] = []byte("<!doctype html>\n<html lang=\"" + l + "\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>" +
			html.EscapeString(title) + "</title><h1>" + html.EscapeString(title) + "</h1><p>" + html.EscapeString(msg) + "</p></html>\n")
	}
	return out
}()

// Busy answers a page request the server has no room for: 503 with a
// short page in the visitor's language (the caller sets Retry-After).
func Busy(w http.ResponseWriter, r *http.Request) {
	b := busyPages[langOf(r)]
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(b) // the client may be gone: nothing to do
}
