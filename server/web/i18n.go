package web

import (
	"fmt"
	"strings"

	"golang.org/x/text/language"
)

// DefaultLang is the language of a visitor who has not chosen one.
const DefaultLang = "zh-CN"

// Langs lists the catalogue's languages, the default first.
var Langs = []string{"zh-CN", "en"}

// matcher matches requested languages against Langs, in Langs' order.
var matcher = func() language.Matcher {
	tags := make([]language.Tag, len(Langs))
	for i, l := range Langs {
		tags[i] = language.MustParse(l)
	}
	return language.NewMatcher(tags)
}()

// MatchLang is the one language negotiation of the pages and the API: it
// returns the catalogue language that best matches s, a language tag or
// an Accept-Language list ("en", "en-GB", "zh-Hans", "en-US,en;q=0.9"), and
// whether any language of s matched one of Langs at all.
func MatchLang(s string) (string, bool) {
	tags, _, err := language.ParseAcceptLanguage(s)
	if err != nil || len(tags) == 0 {
		return DefaultLang, false
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return DefaultLang, false
	}
	return Langs[i], true
}

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
