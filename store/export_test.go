package store

// ProjColumn is a column of a projected table, for the tests of the
// projection outside the package.
type ProjColumn struct {
	Table, Column string
	Key           []string
	Operational   bool
}

// ProjectedColumns lists every classified column of every projected table.
func ProjectedColumns() []ProjColumn {
	var out []ProjColumn
	for _, t := range projection {
		for _, k := range t.key {
			out = append(out, ProjColumn{Table: t.name, Column: k, Key: t.key})
		}
		for _, c := range t.cols {
			out = append(out, ProjColumn{Table: t.name, Column: c.name, Key: t.key, Operational: c.class == operational})
		}
	}
	return out
}

// OperationalTables are the tables that are not projected, with the reason.
func OperationalTables() map[string]string { return operationalTables }

// SetJobHook makes every job's run call f first; an error fails the run
// (a job that fails as a whole). nil removes it.
func SetJobHook(f func(job string) error) { testHookJobChunk = f }
