package web

import (
	"fmt"
	"strings"
)

// DefaultLang is the language of a visitor who has not chosen one.
const DefaultLang = "zh-CN"

// Langs lists the catalogue's languages, the default first.
var Langs = []string{"zh-CN", "en"}

// translate returns the message for key in lang, formatted with args as by
// fmt.Sprintf. A key missing from the catalogue is an error.
func translate(lang, key string, args ...any) (string, error) {
	msg, ok := catalogue[lang][key]
	if !ok {
		return "", fmt.Errorf("message %q missing from the %s catalogue", key, lang)
	}
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	return msg, nil
}

// scriptMessages returns the messages whose keys start with prefix, for a
// page's script.
func scriptMessages(lang, prefix string) (map[string]string, error) {
	c, ok := catalogue[lang]
	if !ok {
		return nil, fmt.Errorf("no catalogue %q", lang)
	}
	out := make(map[string]string)
	for k, v := range c {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out, nil
}
