package web

import (
	"errors"
	"testing"

	"github.com/healthcode/healthcode"
)

func TestErrorText(t *testing.T) {
	batch := &healthcode.Error{Code: healthcode.EINVALID, Line: 1, Field: "subject", Message: `no resident "r_x" (batch rejected: 1 error(s), nothing stored)`,
		Details: []*healthcode.Error{{Code: healthcode.EINVALID, Line: 1, Field: "subject", Message: `no resident "r_x"`}}}
	for _, c := range []struct {
		lang string
		err  error
		want pageError
	}{
		{"zh-CN", batch, pageError{Text: "对象：找不到这位居民（或您无权查看）"}},
		{"en", batch, pageError{Text: `subject: no resident "r_x"`}},
		{"zh-CN", healthcode.FieldErrorf("fact_keys[3]", "is longer than 128 bytes"), pageError{Text: "有异议的事实：过长（最多 128 字节）"}},
		{"zh-CN", healthcode.FieldErrorf("payload.until", "must be after from"), pageError{Text: "结束时间：必须晚于开始时间"}},
		// A message no pattern knows: its kind, the technical text beside.
		{"zh-CN", healthcode.FieldErrorf("payload.lab", "sounds wrong"), pageError{Text: "检测机构：请求有误", Detail: "payload.lab: sounds wrong"}},
		// A field the catalogue does not name: the technical text says where.
		{"zh-CN", healthcode.FieldErrorf("nonesuch", "is required"), pageError{Text: "必须填写", Detail: "nonesuch"}},
		{"zh-CN", errors.New("disk on fire"), pageError{Text: "服务器内部错误，请稍后再试"}},
	} {
		if got := errorText(c.lang, c.err); got != c.want {
			t.Errorf("%s %v: %+v, want %+v", c.lang, c.err, got, c.want)
		}
	}
	// Every pattern's message exists in every language with as many
	// arguments as the pattern has groups.
	for _, p := range errPatterns {
		for _, lang := range Langs {
			msg, ok := catalogue[lang]["errmsg."+p.key]
			if !ok {
				t.Errorf("errmsg.%s missing from %s", p.key, lang)
				continue
			}
			if got, want := countVerbs(msg), p.re.NumSubexp(); got != want {
				t.Errorf("%s errmsg.%s has %d arguments, its pattern %d groups", lang, p.key, got, want)
			}
		}
	}
}

func countVerbs(s string) int {
	n := 0
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '%' {
			if s[i+1] != '%' {
				n++
			}
			i++
		}
	}
	return n
}
