// Package filelock takes a file for one process: an exclusive, advisory
// lock that the operating system releases when the process ends, so a
// crashed holder leaves nothing to clean up. Two processes (or two opens
// in one process) that lock the same path exclude each other.
package filelock

import "errors"

// ErrLocked is returned, wrapped with the holder's process id, when
// another process (or another lock in this one) holds the file.
var ErrLocked = errors.New("in use by another process")
