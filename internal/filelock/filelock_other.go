//go:build !unix

package filelock

import "os"

// Lock creates the file at path. Elsewhere than on Unix it takes no lock:
// the caller must see to it that one process uses the path.
func Lock(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return f.Close, nil
}
