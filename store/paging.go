package store

// The officials' and residents' long lists (a resident's code history and
// access log, the appeal queue, the alerts, the pending facts) are read a
// page at a time: PerPage rows at most, by LIMIT and OFFSET in the query,
// never the whole list.

// PerPage is the length of a page of a list.
const PerPage = 20

// MaxPage bounds a page number (the OFFSET a query is asked for).
const MaxPage = 1_000_000

// pageBounds returns the LIMIT (one more than a page, to know whether a
// next page exists) and OFFSET of page n (from 1; below 1 is 1).
func pageBounds(n int) (limit, offset int) {
	n = min(max(n, 1), MaxPage)
	return PerPage + 1, (n - 1) * PerPage
}

// cutPage trims a list read with pageBounds to a page and reports whether
// a next page exists.
func cutPage[T any](list []T) ([]T, bool) {
	if len(list) > PerPage {
		return list[:PerPage], true
	}
	return list, false
}
