package tlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/healthcode/healthcode/internal/atomicfile"
)

// checkpointFile is the name, in a monitor's state directory, of the last
// verified signed checkpoint.
const checkpointFile = "checkpoint"

// MonitorResult is what one run of Monitor verified.
type MonitorResult struct {
	First bool       // no checkpoint was stored before this run
	Old   Checkpoint // the stored checkpoint (zero on the first run)
	New   Checkpoint // the log's latest checkpoint, now stored

	// Cosignatures are the policy's witnesses' cosignatures on New, kept
	// with it in the state (none without a Policy).
	Cosignatures []Cosignature
}

// An InconsistencyError is proof that a log misbehaved: Old and New are two
// checkpoints, both signed by the log's key, that cannot both be true (the
// log forked its history), or of which New is smaller than Old (a
// rollback). Err wraps ErrInconsistent or ErrRollback.
type InconsistencyError struct {
	Old, New []byte // signed checkpoints, as served
	Err      error
}

func (e *InconsistencyError) Error() string {
	return fmt.Sprintf("log misbehaved, keep both signed checkpoints as evidence: %v", e.Err)
}

func (e *InconsistencyError) Unwrap() error { return e.Err }

// Monitor checks that the log served at c only ever grows. It loads the
// last verified signed checkpoint from stateDir (none on the first run),
// fetches and verifies the log's latest one (with the quorum of witness
// cosignatures the Client's Policy requires, if it has one), proves from the log's tiles
// that the old tree is a prefix of the new one, and then stores the new
// checkpoint in stateDir, cosignatures included (atomically: temporary
// file and rename).
//
// A fork or a rollback is returned as an *InconsistencyError holding both
// signed checkpoints; the stored checkpoint is then left unchanged, so the
// next run fails the same way.
func Monitor(ctx context.Context, c *Client, stateDir string) (MonitorResult, error) {
	var res MonitorResult
	path := filepath.Join(stateDir, checkpointFile)
	oldMsg, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		res.First = true
	case err != nil:
		return res, fmt.Errorf("read monitor state: %w", err)
	default:
		if res.Old, err = OpenCheckpoint(oldMsg, c.Verifier, c.Origin); err != nil {
			return res, fmt.Errorf("stored checkpoint %s: %w", path, err)
		}
	}
	newCp, newMsg, err := c.Checkpoint(ctx)
	if err != nil {
		return res, fmt.Errorf("fetch checkpoint: %w", err)
	}
	res.New = newCp
	if c.Policy != nil {
		if res.Cosignatures, err = c.Policy.Cosignatures(newMsg); err != nil {
			return res, err
		}
	}
	if !res.First {
		if err := c.CheckConsistency(ctx, res.Old, newCp); err != nil {
			if errors.Is(err, ErrInconsistent) || errors.Is(err, ErrRollback) {
				return res, &InconsistencyError{Old: oldMsg, New: newMsg, Err: err}
			}
			return res, fmt.Errorf("check consistency: %w", err)
		}
	}
	if err := atomicfile.Write(path, newMsg, 0o600); err != nil {
		return res, fmt.Errorf("store checkpoint: %w", err)
	}
	return res, nil
}
