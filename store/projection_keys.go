package store

// Row keys of the projected tables in SQL: the one place that builds a
// condition on a table's primary key, its arguments, and the key's text
// form (rowKey's, as projection_last holds it). The verifier's comparison,
// the auditor's checks and sweeps, and the rebuild's copy of operational
// columns all select rows by key through these.

import (
	"fmt"
	"strconv"
	"strings"
)

// keySQL is the SQL expression of a row's key as rowKey writes it in
// projection_last, for columns qualified by prefix ("r." or "").
func (t *projTable) keySQL(prefix string) string {
	parts := make([]string, len(t.key))
	for i, k := range t.key {
		parts[i] = "CAST(" + prefix + k + " AS TEXT)"
	}
	return strings.Join(parts, " || '/' || ")
}

// keyCond is the condition "t's key op (?, ...)": one placeholder per key
// column, in the order of the table's primary key (a row-value comparison
// for a key of several columns, which orders as the primary key does).
func (t *projTable) keyCond(op string) string {
	if len(t.key) == 1 {
		return t.key[0] + " " + op + " ?"
	}
	return "(" + strings.Join(t.key, ", ") + ") " + op + " (" + placeholders(len(t.key)) + ")"
}

// keyIn is the condition "t's key is one of n keys", with len(t.key)
// placeholders per key.
func (t *projTable) keyIn(n int) string {
	if len(t.key) == 1 {
		return t.key[0] + " IN (" + placeholders(n) + ")"
	}
	row := make([]string, len(t.key))
	for i, k := range t.key {
		row[i] = "?"
		if t.ints[k] {
			row[i] = "CAST(? AS BIGINT)"
		}
	}
	one := "(" + strings.Join(row, ", ") + ")"
	rows := make([]string, n)
	for i := range rows {
		rows[i] = one
	}
	return "(" + strings.Join(t.key, ", ") + ") IN (VALUES " + strings.Join(rows, ", ") + ")"
}

// keyArgs are a key's values (one string per key column) as query
// arguments: integer columns as integers. A value of an integer column
// that is not an integer is an error naming the table and column.
func (t *projTable) keyArgs(key []string) ([]any, error) {
	if len(key) != len(t.key) {
		return nil, fmt.Errorf("%s: key %q has %d columns, not %d", t.name, strings.Join(key, "/"), len(key), len(t.key))
	}
	out := make([]any, len(t.key))
	for i, k := range t.key {
		if !t.ints[k] {
			out[i] = key[i]
			continue
		}
		n, err := strconv.ParseInt(key[i], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: key %q: %s is not an integer: %w", t.name, strings.Join(key, "/"), k, err)
		}
		out[i] = n
	}
	return out, nil
}

// keysIn is the condition "t's key is one of keys" (keyIn) with its
// arguments (keyArgs of each).
func (t *projTable) keysIn(keys [][]string) (string, []any, error) {
	args := make([]any, 0, len(keys)*len(t.key))
	for _, k := range keys {
		a, err := t.keyArgs(k)
		if err != nil {
			return "", nil, err
		}
		args = append(args, a...)
	}
	return t.keyIn(len(keys)), args, nil
}

// splitKey splits a row key (rowKey) into n columns: a two-column key's
// second column (an integer or a resident id) never holds a "/".
func splitKey(k string, n int) []string {
	if n == 1 {
		return []string{k}
	}
	i := strings.LastIndex(k, "/")
	if i < 0 {
		return []string{k, ""}
	}
	return []string{k[:i], k[i+1:]}
}
