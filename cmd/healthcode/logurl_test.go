package main

import "testing"

func TestLogBaseURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/log"}, // a bare server address, as before
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/log"},
		{"https://hc.example.gov.cn/log", "https://hc.example.gov.cn/log"},
		{"https://mirror.example.org/cn-41", "https://mirror.example.org/cn-41"}, // a mirror: as given
		{"https://mirror.example.org/logs/cn-41/", "https://mirror.example.org/logs/cn-41"},
	} {
		if got := logBaseURL(tc.in); got != tc.want {
			t.Errorf("logBaseURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
