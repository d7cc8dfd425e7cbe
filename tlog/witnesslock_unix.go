//go:build unix

package tlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
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
	name := filepath.Join(w.Dir, "lock")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("witness state directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(name)
		_ = f.Close() // the lock error is the one to report
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("witness state directory %s is in use by another witness process (pid %s): one witness per state directory", w.Dir, holder)
		}
		return nil, fmt.Errorf("lock witness state directory %s: %w", w.Dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
	}
	return func() { _ = f.Close() }, nil
}
