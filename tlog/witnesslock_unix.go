//go:build unix

package tlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/healthcode/healthcode/internal/filelock"
)

// Lock takes the witness's state directory for this process: an
// exclusive lock on Dir/lock, held until unlock is called or the process
// ends. Two witness processes on one directory would each check a
// checkpoint against the state on disk and could cosign two forks of one
// log; the second is refused instead, naming the process that holds it.
func (w *WitnessServer) Lock() (unlock func(), err error) {
	if err := os.MkdirAll(w.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("witness state directory: %w", err)
	}
	release, err := filelock.Lock(filepath.Join(w.Dir, "lock"))
	if errors.Is(err, filelock.ErrLocked) {
		return nil, fmt.Errorf("witness state directory %s is in use by another witness process (%w): one witness per state directory", w.Dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("witness state directory: %w", err)
	}
	return func() { _ = release() }, nil // closing a lock file releases it; nothing was written to lose
}
