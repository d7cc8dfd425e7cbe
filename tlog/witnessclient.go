package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// A ConflictError is a witness's 409 answer to add-checkpoint: the old size
// sent is not the size of the last checkpoint it cosigned for the log,
// which is Size. Resend from it.
type ConflictError struct {
	Witness string
	Size    int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("witness %s last cosigned size %d", e.Witness, e.Size)
}

// A RefusedError is a witness's refusal of a checkpoint (a status other
// than 200 and 409): 403 not signed by the log's key, 404 unknown log, 400
// malformed or old size above the checkpoint's, 422 the consistency proof
// does not verify (the log forked, or the witness saw another history).
type RefusedError struct {
	Witness string
	Status  int
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("witness %s refused the checkpoint: %d %s: %s", e.Witness, e.Status, http.StatusText(e.Status), e.Message)
}

// AddCheckpoint asks witness w to cosign the signed checkpoint msg, sending
// oldSize (the size of the last checkpoint w cosigned for this log, 0 if
// none) and the consistency proof from oldSize to msg's size, per C2SP
// tlog-witness. It returns w's verified cosignature; a *ConflictError if w
// names another old size; a *RefusedError if w refuses; other errors when
// w cannot be reached.
func AddCheckpoint(ctx context.Context, hc *http.Client, w Witness, oldSize int64, proof sumtlog.TreeProof, msg []byte) (Cosignature, error) {
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", oldSize)
	for _, h := range proof {
		body.WriteString(h.String() + "\n")
	}
	body.WriteString("\n")
	body.Write(msg)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL+"/add-checkpoint", &body)
	if err != nil {
		return Cosignature{}, fmt.Errorf("witness %s: %w", w.Name, err)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Cosignature{}, fmt.Errorf("witness %s: %w", w.Name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Cosignature{}, fmt.Errorf("witness %s: %w", w.Name, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusConflict:
		size, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil || size < 0 {
			return Cosignature{}, fmt.Errorf("witness %s: 409 without a tree size: %q", w.Name, data)
		}
		return Cosignature{}, &ConflictError{Witness: w.Name, Size: size}
	default:
		return Cosignature{}, &RefusedError{Witness: w.Name, Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
	}
	// The answer is one or more signature lines; keep w's, verified.
	p := Policy{Witnesses: []Witness{w}, Quorum: 1}
	cs, err := p.Cosignatures(append(bytes.Clone(msg), data...))
	if err != nil {
		return Cosignature{}, fmt.Errorf("witness %s: bad cosignature: %w", w.Name, err)
	}
	if len(cs) == 0 {
		return Cosignature{}, fmt.Errorf("witness %s: %w", w.Name, errors.New("the answer holds no cosignature by its key"))
	}
	return cs[0], nil
}
