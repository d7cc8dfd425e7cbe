package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/internal/testdb"
	"github.com/healthcode/healthcode/store"
)

// TestFreeTextLimits: every free-text input over its documented limit is
// refused with EINVALID naming the field, before any work (issue 16).
func TestFreeTextLimits(t *testing.T) {
	testdb.Engines(t, func(t *testing.T, dsn string) {
		w := mustAccWorld(t, dsn, store.Limits{}, 1)
		long := strings.Repeat("理", healthcode.MaxReasonBytes/3+1) // over the limit in bytes, not in characters
		field := func(err error) string {
			var he *healthcode.Error
			if e, ok := err.(*healthcode.Error); ok {
				he = e
			}
			if he == nil {
				return ""
			}
			return he.Field
		}
		att := func(mt string) healthcode.AppealRequest {
			return healthcode.AppealRequest{Resident: "r_test000000", FactKeys: []string{"s:x"}, Statement: "错误",
				Attachments: []healthcode.Attachment{{Name: "a.jpg", MediaType: mt, Data: []byte("x")}}}
		}
		for _, tc := range []struct {
			name, field string
			err         error
		}{
			{"fact rejection", "reason", second(w.db.DecideFact(as(cmdCity1), "s:x", false, long))},
			{"retraction", "reason", second(w.db.RetractFact(as(cmdCity1), "s:x", long))},
			{"ruleset refusal", "reason", second(w.db.DecideRuleset(as(cmdCity1), "r", 1, false, long))},
			{"appeal denial", "reason", second(w.db.DecideAppeal(as(cmdCity1), "a_x", false, long))},
			{"disabling", "reason", second(w.db.DisableOfficial(as(operator), worker.ID, long))},
			{"re-enabling", "reason", w.db.EnableOfficial(as(operator), worker.ID, long)},
			{"ruleset file name", "name", second(w.db.DraftRuleset(as(cmdCity1), strings.Repeat("n", 201)+".yaml", []byte("x")))},
			{"login", "login", second(w.db.LoginFrom(context.Background(), strings.Repeat("l", 257), "whatever password", ""))},
			{"password", "password", second(w.db.LoginFrom(context.Background(), "login-o_worker", strings.Repeat("p", 257), ""))},
			{"media type too long", "attachments[0].media_type", second(w.db.FileAppeal(self("r_test000000"), att("image/"+strings.Repeat("j", 255))))},
			{"not a media type", "attachments[0].media_type", second(w.db.FileAppeal(self("r_test000000"), att("<script>")))},
			{"fact key", "fact_keys[0]", second(w.db.FileAppeal(self("r_test000000"), healthcode.AppealRequest{Resident: "r_test000000", FactKeys: []string{strings.Repeat("k", 257)}, Statement: "错误"}))},
		} {
			if healthcode.ErrorCode(tc.err) != healthcode.EINVALID || field(tc.err) != tc.field {
				t.Errorf("%s: %v (field %q), want EINVALID naming %s", tc.name, tc.err, field(tc.err), tc.field)
			}
		}
	})
}

func second[T any](_ T, err error) error { return err }
