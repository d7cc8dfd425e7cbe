package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/server/web"
	"github.com/healthcode/healthcode/store"
)

func runCode(ctx context.Context, e *env) (err error) {
	if len(e.args) == 0 || e.args[0] != "explain" {
		return usagef("usage: healthcode code explain --db DB RESIDENT")
	}
	fs := newFlags(e, "code explain", "code explain [--db DB] [--lang zh-CN|en] RESIDENT")
	db := dbFlag(e, fs)
	lang := fs.String("lang", web.DefaultLang, "language of reasons: "+strings.Join(web.Langs, " or "))
	history := fs.Bool("history", false, "print every change, not only the current code")
	if err := parseFlags(e, fs, e.args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("code explain needs exactly one resident id")
	}
	l, ok := web.MatchLang(*lang)
	if !ok {
		return usagef("--lang must be %s", strings.Join(web.Langs, " or "))
	}
	*lang = l
	st, err := openExisting(ctx, e, *db)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	// The operator at the database acts as the system; the explanation is
	// the same one the resident reads.
	sys := healthcode.NewContext(ctx, healthcode.Actor{Kind: healthcode.ActorSystem, ID: "cli"})
	var list []*store.Explanation
	if *history {
		// Every change, a bounded page at a time.
		for n, more := 1, true; more; n++ {
			var page []*store.Explanation
			if page, more, err = st.History(sys, fs.Arg(0), n); err != nil {
				return err
			}
			list = append(list, page...)
		}
	} else {
		ex, err := st.Explain(sys, fs.Arg(0))
		if err != nil {
			return err
		}
		list = []*store.Explanation{ex}
	}
	for i, ex := range list {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		printExplanation(e, ex, *lang)
	}
	return nil
}

func printExplanation(e *env, ex *store.Explanation, lang string) {
	w := e.stdout
	fmt.Fprintf(w, "%s  %s (%s) since %s\n", ex.Resident, ex.Colour.Label(lang), ex.Colour, ex.Since.Format("2006-01-02 15:04:05Z07:00"))
	if ex.Rule == "" {
		fmt.Fprintln(w, "  rule:    none applies (green by default)")
	} else {
		fmt.Fprintf(w, "  rule:    %s — %s\n", ex.Rule, ex.Reason[lang])
		fmt.Fprintf(w, "  ruleset: %s version %d\n", ex.RuleSet, ex.RuleSetVersion)
		if ex.LegalBasis != nil {
			fmt.Fprintf(w, "  basis:   %s %s\n", ex.LegalBasis.Number, ex.LegalBasis.Title)
		}
	}
	if ex.Cause != "" {
		fmt.Fprintf(w, "  cause:   %s (previously %s)\n", ex.Cause, ex.Previous)
	}
	fmt.Fprintf(w, "  log:     entry %d\n", ex.LogIndex)
	for _, f := range ex.Facts {
		by := f.RecordedBy.Name
		if f.RecordedBy.Kind == healthcode.ActorOfficial {
			by = fmt.Sprintf("%s (%s, %s)", f.RecordedBy.Name, f.RecordedBy.Role, f.RecordedBy.Post)
		}
		line := fmt.Sprintf("  fact:    %s %s at %s, recorded by %s", f.Key, f.Kind, f.ObservedAt.Format("2006-01-02 15:04Z07:00"), by)
		if f.ApprovedBy != nil {
			line += fmt.Sprintf(", approved by %s (%s)", f.ApprovedBy.Name, f.ApprovedBy.Post)
		}
		fmt.Fprintln(w, line+fmt.Sprintf(" [log %d]", f.LogIndex))
		fmt.Fprintf(w, "           %s\n", strings.TrimSpace(string(f.Payload)))
	}
}
