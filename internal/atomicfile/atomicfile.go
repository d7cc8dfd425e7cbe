// Package atomicfile writes files so that a reader, even after a crash,
// sees a file's old content or its new content, never part of either: the
// data goes to a temporary file in the same directory, which is synced and
// then renamed (or linked) into place, and the directory is synced. It
// imports only the standard library, so that every package may use it.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces the content of path with data, creating path's directory
// (mode 0755) if needed. perm is the new file's mode.
func Write(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return syncDir(filepath.Dir(path))
}

// Create writes data to path like Write, but only if path does not exist:
// otherwise it fails with an error that errors.Is fs.ErrExist, leaving
// the existing file as it was.
func Create(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	// A hard link fails if path exists, and gives path the whole content
	// at once; the temporary name is then removed.
	if err := os.Link(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	if err := os.Remove(tmp); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data to a new, synced temporary file beside path and
// returns its name.
func writeTemp(path string, data []byte, perm fs.FileMode) (string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	abandon := func(err error) (string, error) {
		return "", errors.Join(err, f.Close(), os.Remove(f.Name()))
	}
	if err := f.Chmod(perm); err != nil {
		return abandon(err)
	}
	if _, err := f.Write(data); err != nil {
		return abandon(err)
	}
	if err := f.Sync(); err != nil {
		return abandon(err)
	}
	if err := f.Close(); err != nil {
		return "", errors.Join(err, os.Remove(f.Name()))
	}
	return f.Name(), nil
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
