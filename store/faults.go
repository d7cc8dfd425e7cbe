package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/healthcode/healthcode"
)

// Faults of the database that pass — a full disk, a restarting or
// unreachable PostgreSQL — reach callers as EUNAVAIL with a message
// saying what happened and what a client should do, instead of as
// internal errors (docs/operations.md, "The fault matrix").

// SQLite primary result codes (the low byte of an extended code).
const (
	sqliteIOErr = 10 // SQLITE_IOERR
	sqliteFull  = 13 // SQLITE_FULL
)

// Retry-After hints for the faults.
const (
	retryDiskFull    = 30 * time.Second // until an operator frees space
	retryUnreachable = 2 * time.Second  // PostgreSQL restarts in seconds
)

// DescribeError returns err as an EUNAVAIL error naming the fault when err
// is a database fault that passes (disk full, the database restarting or
// unreachable), and err itself otherwise (nil for nil).
func DescribeError(err error) error {
	if err == nil || healthcode.ErrorCode(err) != healthcode.EINTERNAL {
		return err
	}
	switch {
	case diskFull(err):
		e := healthcode.Errorf(healthcode.EUNAVAIL, "the database's disk is full: writes are refused until an operator frees space; reads go on, and nothing was stored (retry later with the same ids)")
		e.RetryAfter = retryDiskFull
		return errors.Join(e, err)
	case unreachable(err):
		e := healthcode.Errorf(healthcode.EUNAVAIL, "the database is restarting or cannot be reached: try again shortly (a write retried with the same ids is stored once)")
		e.RetryAfter = retryUnreachable
		return errors.Join(e, err)
	}
	return err
}

// Fault names the database fault err is, for a metric's label:
// "disk_full", "database_unreachable", or "" for any other error (nil
// included). err may be DescribeError's answer or the error it describes.
func Fault(err error) string {
	if code := healthcode.ErrorCode(err); err == nil || code != healthcode.EINTERNAL && code != healthcode.EUNAVAIL {
		return ""
	}
	switch {
	case diskFull(err):
		return "disk_full"
	case unreachable(err):
		return "database_unreachable"
	}
	return ""
}

// diskFull reports whether err says the database's disk (or quota) is full.
func diskFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteFull:
			return true
		case sqliteIOErr:
			return strings.Contains(se.Error(), "no space") || errors.Is(err, syscall.ENOSPC)
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "53100" // disk_full
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// unreachable reports whether err says the database server went away or
// is not (yet) accepting connections.
func unreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08 (connection exception); 57P01-57P03: admin shutdown,
		// crash shutdown, cannot connect now (starting up or shutting
		// down).
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne):
		return true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return false // the caller's own deadline, not the database's fault
	}
	return strings.Contains(err.Error(), "conn closed")
}
