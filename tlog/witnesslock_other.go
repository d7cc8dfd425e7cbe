//go:build !unix

package tlog

import (
	"fmt"
	"os"
)

// Lock creates the witness's state directory. Elsewhere than on Unix it
// takes no lock: run one witness process per state directory.
func (w *WitnessServer) Lock() (unlock func(), err error) {
	if err := os.MkdirAll(w.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("witness state directory: %w", err)
	}
	return func() {}, nil
}
