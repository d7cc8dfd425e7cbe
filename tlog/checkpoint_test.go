package tlog

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// mustKeys returns a new signer and verifier for origin.
func mustKeys(t testing.TB, origin string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func TestCheckpointRoundTrip(t *testing.T) {
	s, v := mustKeys(t, "")
	if v.Name() != DefaultOrigin {
		t.Fatalf("key name = %q, want %q", v.Name(), DefaultOrigin)
	}
	root := sumtlog.RecordHash([]byte("root"))
	for _, size := range []int64{0, 1, 255, 256, 1<<63 - 1} {
		msg, err := SignCheckpoint(s, "", size, root)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := OpenCheckpoint(msg, v, "")
		if err != nil {
			t.Fatalf("OpenCheckpoint(%q): %v", msg, err)
		}
		want := Checkpoint{Origin: DefaultOrigin, Size: size, Root: root}
		if cp != want {
			t.Errorf("got %+v, want %+v", cp, want)
		}
		if !bytes.HasPrefix(msg, []byte(want.String()+"\n— "+DefaultOrigin+" ")) {
			t.Errorf("unexpected note layout:\n%s", msg)
		}
	}
}

func TestOpenCheckpointRejects(t *testing.T) {
	s, v := mustKeys(t, "example.org/log")
	_, otherV := mustKeys(t, "example.org/log")
	root := sumtlog.RecordHash([]byte("root"))
	good, err := SignCheckpoint(s, "example.org/log", 10, root)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(text string) []byte {
		msg, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	rootText := strings.Split(string(good), "\n")[2]
	tests := []struct {
		name   string
		msg    []byte
		v      note.Verifier
		origin string
	}{
		{"wrong key", good, otherV, "example.org/log"},
		{"no key", good, nil, "example.org/log"},
		{"wrong origin", good, v, "other.org/log"},
		{"default origin", good, v, ""},
		{"tampered size", bytes.Replace(good, []byte("\n10\n"), []byte("\n11\n"), 1), v, "example.org/log"},
		{"unsigned", []byte("example.org/log\n10\n" + rootText + "\n"), v, "example.org/log"},
		{"extension line", sign("example.org/log\n10\n" + rootText + "\nextra\n"), v, "example.org/log"},
		{"leading zero", sign("example.org/log\n010\n" + rootText + "\n"), v, "example.org/log"},
		{"negative", sign("example.org/log\n-1\n" + rootText + "\n"), v, "example.org/log"},
		{"plus", sign("example.org/log\n+10\n" + rootText + "\n"), v, "example.org/log"},
		{"overflow", sign("example.org/log\n9223372036854775808\n" + rootText + "\n"), v, "example.org/log"},
		{"short root", sign("example.org/log\n10\nAAAA\n"), v, "example.org/log"},
		{"unpadded root", sign("example.org/log\n10\n" + strings.TrimSuffix(rootText, "=") + "\n"), v, "example.org/log"},
		{"two lines", sign("example.org/log\n10\n"), v, "example.org/log"},
		{"origin with space", sign("example.org/log x\n10\n" + rootText + "\n"), v, "example.org/log x"},
		{"too long", append(bytes.Repeat([]byte("x"), maxCheckpointSize), good...), v, "example.org/log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp, err := OpenCheckpoint(tt.msg, tt.v, tt.origin)
			if err == nil {
				t.Fatalf("accepted as %+v", cp)
			}
			if !errors.Is(err, ErrBadCheckpoint) {
				t.Errorf("error %v does not wrap ErrBadCheckpoint", err)
			}
		})
	}
	// A cosignature by another key (a witness) does not matter.
	ws, _ := mustKeys(t, "witness.example")
	n, err := note.Open(good, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := note.Sign(n, ws)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(cosigned, v, "example.org/log"); err != nil {
		t.Errorf("cosigned checkpoint: %v", err)
	}
}

func TestGenerateKeyBadOrigin(t *testing.T) {
	for _, origin := range []string{"a b", "a+b", "a\nb"} {
		if _, _, err := GenerateKey(rand.Reader, origin); err == nil {
			t.Errorf("GenerateKey(%q) succeeded", origin)
		}
	}
}

func TestUnverifiedCheckpoint(t *testing.T) {
	s, _ := mustKeys(t, "")
	msg, err := SignCheckpoint(s, "", 7, sumtlog.Hash{1})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := unverifiedCheckpoint(msg)
	if err != nil || cp.Size != 7 {
		t.Errorf("unverifiedCheckpoint = %+v, %v", cp, err)
	}
	if _, err := unverifiedCheckpoint([]byte("garbage")); err == nil {
		t.Error("unverifiedCheckpoint accepted garbage")
	}
}

func FuzzOpenCheckpoint(f *testing.F) {
	s, v := mustKeys(f, "")
	good, err := SignCheckpoint(s, "", 10, sumtlog.RecordHash([]byte("x")))
	if err != nil {
		f.Fatal(err)
	}
	body := good[:bytes.Index(good, []byte("\n\n"))+1]
	f.Add(good, false)
	f.Add(body, true)
	f.Add([]byte(DefaultOrigin+"\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"), true)
	f.Add([]byte(DefaultOrigin+"\n010\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"), true)
	f.Add([]byte(DefaultOrigin+"\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n"), true)
	f.Add([]byte("\n\n— x AAAA\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, signIt bool) {
		msg := data
		if signIt {
			// Sign the fuzzed body, so that the body parser is reached.
			m, err := note.Sign(&note.Note{Text: string(data)}, s)
			if err != nil {
				return
			}
			msg = m
		}
		cp, err := OpenCheckpoint(msg, v, "")
		if err != nil {
			return
		}
		n, err := note.Open(msg, note.VerifierList(v))
		if err != nil {
			t.Fatalf("accepted a note that does not open: %v", err)
		}
		if cp.String() != n.Text {
			t.Fatalf("body re-encodes differently:\n%q\n%q", n.Text, cp.String())
		}
		again, err := SignCheckpoint(s, cp.Origin, cp.Size, cp.Root)
		if err != nil {
			t.Fatal(err)
		}
		if signIt && !bytes.Equal(again, msg) {
			t.Fatalf("re-signing differs:\n%q\n%q", msg, again)
		}
	})
}
