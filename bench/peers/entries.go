// Package peers benchmarks healthcode's transparency log against peer
// implementations, on the same machine and the same disk, appending the
// same encoded entries. It is its own module so that the peers'
// dependencies stay out of the healthcode module; run it with
//
//	cd bench/peers && go test -run '^$' -bench . -benchtime 1x
//
// Flags: -entries N (entries appended per run, default 4096). Tessera with
// batch size 1 makes several fsyncs per entry: at 4096 entries that run
// alone takes about a minute on the 2-core development machine.
//
// It also holds the witness interoperability tests (witness_test.go):
// filippo.io/torchwood's litewitness, a Go tool of this module, against
// healthcode's witness and server:
//
//	cd bench/peers && go test -run Witness .
package peers

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/healthcode/healthcode/tlog"
)

// Entries returns n encoded healthcode log entries, realistic in size and
// shape (fact.recorded by a source, about one of 1000 residents, with a
// personal-data commitment and a prev link). The same n always gives the
// same entries.
func Entries(n int) ([][]byte, error) {
	base := time.Date(2022, 6, 13, 8, 0, 0, 0, time.UTC)
	prev := map[string][32]byte{}
	out := make([][]byte, n)
	for i := range out {
		subject := fmt.Sprintf("r-%06d", i%1000)
		payload, err := json.Marshal(map[string]any{
			"fact_id":   fmt.Sprintf("f-%08d", i),
			"fact_kind": "test_result",
			"result":    "negative",
			"evidence":  fmt.Sprintf("lab-2022-0613-%06d", i),
		})
		if err != nil {
			return nil, err
		}
		e := &tlog.Entry{
			Index:    int64(i),
			Time:     base.Add(time.Duration(i) * time.Millisecond),
			Kind:     tlog.KindFactRecorded,
			Actor:    tlog.Actor{Kind: tlog.ActorSource, ID: "lab-zz-01"},
			Subject:  subject,
			Prev:     prev[subject],
			Personal: tlog.PersonalCommitment([32]byte{byte(i), byte(i >> 8)}, []byte(subject)),
			Payload:  payload,
		}
		b, err := e.MarshalText()
		if err != nil {
			return nil, err
		}
		h, err := e.LeafHash()
		if err != nil {
			return nil, err
		}
		prev[subject] = h
		out[i] = b
	}
	return out, nil
}
