package main

import (
	"bytes"
	"testing"
)

func TestDeriveOrigin(t *testing.T) {
	rnd := bytes.Repeat([]byte{0xab}, 8)
	for _, tc := range []struct{ url, issuer, want string }{
		{"https://hc.henan.gov.cn", "cn-41", "hc.henan.gov.cn/log"},
		{"https://gov.cn/healthcode/", "cn-41", "gov.cn/healthcode/log"},
		{"", "cn-42", "healthcode.local/cn-42/log"},
		{"", "", "healthcode.local/log-abababab"},
		{"", "cn-41", "healthcode.local/log-abababab"}, // the default issuer names nobody
	} {
		got, err := deriveOrigin(tc.url, tc.issuer, bytes.NewReader(rnd))
		if err != nil || got != tc.want {
			t.Errorf("deriveOrigin(%q, %q) = %q, %v; want %q", tc.url, tc.issuer, got, err, tc.want)
		}
	}
	a, _ := deriveOrigin("", "", bytes.NewReader([]byte{1, 2, 3, 4}))
	b, _ := deriveOrigin("", "", bytes.NewReader([]byte{5, 6, 7, 8}))
	if a == b || a == "healthcode.local/log" {
		t.Errorf("two unconfigured deployments share origin %q / %q", a, b)
	}
	if _, err := deriveOrigin("not a url", "", nil); err == nil {
		t.Error("accepted a public URL without a host")
	}
}
