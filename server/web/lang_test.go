package web

import "testing"

func TestMatchLang(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"zh-CN", "zh-CN", true},
		{"en", "en", true},
		{"en-GB", "en", true},
		{"zh", "zh-CN", true},
		{"zh-Hans-CN", "zh-CN", true},
		{"en-US,en;q=0.9,zh-CN;q=0.8", "en", true},
		{"zh-CN,zh;q=0.9,en;q=0.8", "zh-CN", true},
		{"fr, de;q=0.5, en;q=0.1", "en", true},
		{"fr", DefaultLang, false},
		{"", DefaultLang, false},
		{"not a tag!", DefaultLang, false},
	}
	for _, tt := range tests {
		got, ok := MatchLang(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("MatchLang(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
