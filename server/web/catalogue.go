package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
)

// The message catalogue holds every user-visible string of the pages, by
// language and key: messages/LANG.json for each of Langs, a JSON object of
// key to message (a fmt format where the message takes arguments). Both
// languages must have the same keys (TestCatalogue); templates ask for a
// message with {{.T "key" args...}}, and a missing key fails the render.
//
//go:embed messages/*.json
var messageFiles embed.FS

var catalogue = mustLoadCatalogue(messageFiles)

func mustLoadCatalogue(fsys fs.FS) map[string]map[string]string {
	c, err := loadCatalogue(fsys)
	if err != nil {
		panic(err) // the files are embedded: TestCatalogue fails first
	}
	return c
}

// loadCatalogue reads messages/LANG.json for each of Langs. A file that is
// missing, is not an object of strings or names a key twice is an error.
func loadCatalogue(fsys fs.FS) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(Langs))
	for _, lang := range Langs {
		name := "messages/" + lang + ".json"
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("message catalogue: %w", err)
		}
		msgs, err := decodeMessages(b)
		if err != nil {
			return nil, fmt.Errorf("message catalogue %s: %w", name, err)
		}
		out[lang] = msgs
	}
	return out, nil
}

// decodeMessages decodes a flat JSON object of strings, refusing a key
// that appears twice (json.Unmarshal would let the last one win).
func decodeMessages(b []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object (%v)", err)
	}
	out := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k := tok.(string) // object keys are strings
		var v string
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("message %q: %w", k, err)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("message %q appears twice", k)
		}
		out[k] = v
	}
	if _, err := dec.Token(); err != nil { // }
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the object")
	}
	return out, nil
}
