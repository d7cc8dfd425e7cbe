package rules

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthcode/healthcode"
)

func TestValidateFactGood(t *testing.T) {
	now := at(10, 12, 0)
	for _, f := range []healthcode.Fact{
		testResult("t1", "pcr", "negative", at(10, 8, 0)),
		testResult("t2", "antigen", "positive", now.Add(MaxSkew)), // at the skew limit
		vaccination("v1", 3, at(1, 8, 0)),
		caseStatus("s1", "confirmed", "HN-1", at(9, 8, 0)),
		contact("c1", "spatiotemporal", at(9, 8, 0)),
		visit("a1", "410102001001", at(9, 8, 0), at(9, 8, 0)), // zero-length stay
		riskArea("r1", "410102001", "high", at(9, 0, 0), at(16, 0, 0)),
		quarantine("q1", "home", at(9, 0, 0), at(16, 0, 0)),
	} {
		if err := ValidateFact(&f, now); err != nil {
			t.Errorf("ValidateFact(%s) = %v, want nil", f.ID, err)
		}
	}
}

func TestValidateFactBad(t *testing.T) {
	now := at(10, 12, 0)
	tr := testResult("t1", "pcr", "negative", at(10, 8, 0))
	noSource := tr
	noSource.Source = ""
	unknownKind := tr
	unknownKind.Kind = "bank_deposit"
	areaSubject := riskArea("r1", "410102001", "high", at(9, 0, 0), at(16, 0, 0))
	areaSubject.Subject = "r_1"
	futureObserved := tr
	futureObserved.ObservedAt = now.Add(MaxSkew + time.Second)
	for _, tc := range []struct {
		name      string
		f         healthcode.Fact
		wantField string
	}{
		{"common fields first", noSource, "source"},
		{"unknown kind", unknownKind, "kind"},
		{"area fact about a person", areaSubject, "subject"},
		{"payload not an object", withPayload(tr, `["pcr"]`), "payload"},
		{"unknown field", withPayload(tr, `{"method":"pcr","result":"negative","sampled_at":"2022-07-10T08:00:00+08:00","lab":"x","deposit":1}`), "payload.deposit"},
		{"missing field", withPayload(tr, `{"method":"pcr","result":"negative","lab":"x"}`), "payload.sampled_at"},
		{"ill-typed string", withPayload(tr, `{"method":1,"result":"negative","sampled_at":"2022-07-10T08:00:00+08:00","lab":"x"}`), "payload.method"},
		{"null field", withPayload(tr, `{"method":"pcr","result":null,"sampled_at":"2022-07-10T08:00:00+08:00","lab":"x"}`), "payload.result"},
		{"duplicate field", withPayload(tr, `{"method":"pcr","result":"negative","result":"positive","sampled_at":"2022-07-10T08:00:00+08:00","lab":"x"}`), "payload.result"},
		{"bad enum", withPayload(tr, `{"method":"pcr","result":"maybe","sampled_at":"2022-07-10T08:00:00+08:00","lab":"x"}`), "payload.result"},
		{"empty string", withPayload(tr, `{"method":"pcr","result":"negative","sampled_at":"2022-07-10T08:00:00+08:00","lab":""}`), "payload.lab"},
		{"time not RFC 3339", withPayload(tr, `{"method":"pcr","result":"negative","sampled_at":"2022-07-10 08:00","lab":"x"}`), "payload.sampled_at"},
		{"time not a string", withPayload(tr, `{"method":"pcr","result":"negative","sampled_at":1657411200,"lab":"x"}`), "payload.sampled_at"},
		{"time in the future", testResult("t1", "pcr", "negative", now.Add(MaxSkew+time.Second)), "payload.sampled_at"},
		{"observed_at in the future", futureObserved, "observed_at"},
		{"int not an integer", withPayload(vaccination("v1", 1, at(1, 0, 0)), `{"dose":1.5,"product":"x","administered_at":"2022-07-01T00:00:00Z"}`), "payload.dose"},
		{"int out of range", vaccination("v1", 0, at(1, 0, 0)), "payload.dose"},
		{"int as a string", withPayload(vaccination("v1", 1, at(1, 0, 0)), `{"dose":"1","product":"x","administered_at":"2022-07-01T00:00:00Z"}`), "payload.dose"},
		{"payload null", withPayload(tr, `null`), "payload"},
		{"case ids null", withPayload(riskArea("r1", "410102", "high", at(9, 0, 0), at(10, 0, 0)), `{"level":"high","from":"2022-07-09T00:00:00Z","until":"2022-07-10T00:00:00Z","case_ids":null}`), "payload.case_ids"},
		{"bad area code", visit("a1", "4101", at(9, 8, 0), at(9, 9, 0)), "payload.area"},
		{"departed before arrived", visit("a1", "410102", at(9, 8, 0), at(9, 7, 0)), "payload.departed_at"},
		{"until before from", quarantine("q1", "home", at(9, 0, 0), at(8, 0, 0)), "payload.until"},
		{"until equal to from", riskArea("r1", "410102", "high", at(9, 0, 0), at(9, 0, 0)), "payload.until"},
		{"no cited cases", withPayload(riskArea("r1", "410102", "high", at(9, 0, 0), at(10, 0, 0)), `{"level":"high","from":"2022-07-09T00:00:00Z","until":"2022-07-10T00:00:00Z","case_ids":[]}`), "payload.case_ids"},
		{"case ids not strings", withPayload(riskArea("r1", "410102", "high", at(9, 0, 0), at(10, 0, 0)), `{"level":"high","from":"2022-07-09T00:00:00Z","until":"2022-07-10T00:00:00Z","case_ids":[1]}`), "payload.case_ids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateFact(&tc.f, now)
			var e *healthcode.Error
			if !errors.As(err, &e) {
				t.Fatalf("ValidateFact = %v, want a *healthcode.Error", err)
			}
			if e.Code != healthcode.EINVALID || e.Field != tc.wantField {
				t.Errorf("ValidateFact = %v, want code %s field %s", err, healthcode.EINVALID, tc.wantField)
			}
		})
	}
}

func TestCitedCases(t *testing.T) {
	r := withPayload(riskArea("r1", "410102", "high", at(9, 0, 0), at(10, 0, 0)), `{"level":"high","from":"2022-07-09T00:00:00Z","until":"2022-07-10T00:00:00Z","case_ids":["HN-2","HN-1"]}`)
	for _, tc := range []struct {
		f    healthcode.Fact
		want []string
	}{
		{contact("c1", "close", at(9, 0, 0)), []string{"HN-1"}},
		{r, []string{"HN-2", "HN-1"}},
		{caseStatus("s1", "confirmed", "HN-1", at(9, 0, 0)), nil},
		{testResult("t1", "pcr", "positive", at(9, 0, 0)), nil},
	} {
		got, err := CitedCases(&tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("CitedCases(%s) (-want +got):\n%s", tc.f.ID, diff)
		}
	}
}

func TestWindowOf(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		f           healthcode.Fact
		from, until time.Time
		neverEnds   bool
	}{
		{f: testResult("t1", "pcr", "positive", at(1, 0, 0)), from: at(1, 0, 0), until: at(15, 0, 0)},
		{f: vaccination("v1", 1, at(1, 0, 0)), from: at(1, 0, 0), neverEnds: true},
		{f: caseStatus("s1", "confirmed", "HN-1", at(2, 0, 0)), from: at(2, 0, 0), neverEnds: true},
		{f: contact("c1", "close", at(1, 0, 0)), from: at(1, 0, 0), until: at(1, 0, 0).Add(14 * day)},
		{f: visit("a1", "410102", at(1, 0, 0), at(2, 0, 0)), from: at(1, 0, 0), until: at(16, 0, 0)},
		{f: riskArea("r1", "410102", "high", at(1, 0, 0), at(8, 0, 0)), from: at(1, 0, 0), until: at(22, 0, 0)},
		{f: quarantine("q1", "home", at(1, 0, 0), at(8, 0, 0)), from: at(1, 0, 0), until: at(8, 0, 0)},
	} {
		from, until, err := WindowOf(&tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if !from.Equal(tc.from) || until.IsZero() != tc.neverEnds || (!tc.neverEnds && !until.Equal(tc.until)) {
			t.Errorf("WindowOf(%s) = %v, %v; want %v, %v (never ends: %v)", tc.f.ID, from, until, tc.from, tc.until, tc.neverEnds)
		}
	}
}

func TestMayHandEnter(t *testing.T) {
	for _, tc := range []struct {
		kind string
		role healthcode.Role
		want bool
	}{
		{KindContact, healthcode.RoleTracer, true},
		{KindContact, healthcode.RoleCommand, false},
		{KindCaseStatus, healthcode.RoleCommand, true},
		{KindRiskArea, healthcode.RoleCommand, true},
		{KindRiskArea, healthcode.RoleTracer, false},
		{KindTestResult, healthcode.RoleCommand, false},
		{KindTestResult, healthcode.RoleOperator, false},
		{"bank_deposit", healthcode.RoleCommand, false},
	} {
		if got := MayHandEnter(tc.kind, tc.role); got != tc.want {
			t.Errorf("MayHandEnter(%s, %s) = %v, want %v", tc.kind, tc.role, got, tc.want)
		}
	}
}

func TestKindsAreDocumented(t *testing.T) {
	for _, k := range Kinds() {
		if k.Description["zh-CN"] == "" || k.Description["en"] == "" || k.Window == "" || len(k.Fields) == 0 {
			t.Errorf("kind %s is not fully documented", k.Name)
		}
		if k.Area != (k.List == "") {
			t.Errorf("kind %s: area kinds and only they are read through areas", k.Name)
		}
		for _, fl := range k.Fields {
			if fl.About == "" || (fl.Type == TypeEnum) != (len(fl.Enum) > 0) {
				t.Errorf("kind %s field %s is not fully documented", k.Name, fl.Name)
			}
		}
	}
}
