package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Column scanners for the stored encodings: a time or JSON value that does
// not decode is an error of the Scan that read it (database/sql names the
// column), never a zero value passed on. Pass them to Scan in place of a
// string: rows.Scan(&id, timeCol(&f.RecordedAt), jsonCol(&ids)).

// timeCol scans a time column written by fmtTime into t; "" is the zero time.
func timeCol(t *time.Time) sql.Scanner { return timeScanner{t} }

// jsonCol scans a JSON text column into v.
func jsonCol(v any) sql.Scanner { return jsonScanner{v} }

type timeScanner struct{ t *time.Time }

func (s timeScanner) Scan(src any) error {
	str, err := textOf(src)
	if err != nil {
		return err
	}
	t, err := parseTime(str)
	if err != nil {
		return fmt.Errorf("stored time %q: %w", str, err)
	}
	*s.t = t
	return nil
}

type jsonScanner struct{ v any }

func (s jsonScanner) Scan(src any) error {
	str, err := textOf(src)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(str), s.v); err != nil {
		return fmt.Errorf("stored JSON %.40q: %w", str, err)
	}
	return nil
}

// textOf is a text column's value as the drivers hand it over.
func textOf(src any) (string, error) {
	switch v := src.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	default:
		return "", fmt.Errorf("want a text column, have %T", src)
	}
}

// decodeStored decodes data, a JSON value read from the store, into v; what
// names the value in the error.
func decodeStored(what string, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: stored JSON does not decode: %w", what, err)
	}
	return nil
}

// scanRows calls scan for each of rows, the result of a query that failed
// with err or not, and closes them. It returns the first error: the
// query's, scan's, or the iteration's (rows.Err, which rows.Close does not
// report).
func scanRows(rows *sql.Rows, err error, scan func(*sql.Rows) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// endRows closes rows after a loop over them and returns the iteration's
// error (rows.Err), which rows.Close alone does not report.
func endRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}
