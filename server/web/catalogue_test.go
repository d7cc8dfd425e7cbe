package web

import "testing"

func TestDecodeMessages(t *testing.T) {
	if m, err := decodeMessages([]byte(`{"a": "x %s", "b": "y"}`)); err != nil || m["a"] != "x %s" || m["b"] != "y" || len(m) != 2 {
		t.Errorf("valid catalogue: %v, %v", m, err)
	}
	for _, bad := range []string{`{"a": "x", "a": "y"}`, `{"a": 1}`, `["a"]`, `{"a": "x"`, `{"a": "x"} {}`} {
		if _, err := decodeMessages([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
