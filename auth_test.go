package healthcode

import "testing"

// TestAuthorize is the authorisation table of the domain: every operation
// for every kind of actor, inside and outside the actor's jurisdiction.
func TestAuthorize(t *testing.T) {
	const home, elsewhere = "410105001001", "410102001001"
	public := Actor{}
	self := Actor{Kind: ActorResident, ID: "r_1", Role: RoleResident, Jurisdiction: home}
	other := Actor{Kind: ActorResident, ID: "r_2", Role: RoleResident, Jurisdiction: home}
	official := func(role Role, post string) Actor {
		return Actor{Kind: ActorOfficial, ID: "o_" + string(role), Role: role, Jurisdiction: post}
	}
	source := Actor{Kind: ActorSource, ID: "s_lab", Jurisdiction: "410000"}
	system := Actor{Kind: ActorSystem, ID: "test"}
	actors := []struct {
		name string
		a    Actor
	}{
		{"public", public}, {"self", self}, {"other", other},
		{"worker-in", official(RoleWorker, home)}, {"worker-out", official(RoleWorker, elsewhere)},
		{"tracer-in", official(RoleTracer, "410105")}, {"tracer-out", official(RoleTracer, "410102")},
		{"command-in", official(RoleCommand, "410105")}, {"command-out", official(RoleCommand, "410102")},
		{"operator", official(RoleOperator, "410000")}, {"admin", official(RoleAdmin, "410000")},
		{"auditor", official(RoleAuditor, "410000")}, {"source", source}, {"system", system},
	}
	// One letter per actor above: A allowed, F forbidden, U log in first.
	table := []struct {
		op   Op
		want string
	}{
		{OpReadJurisdiction, "AAAAAAAAAAAAAA"},
		{OpReadResident, "UAFAFAFAFFFFFA"},
		{OpIssueToken, "UAFFFFFFFFFFFF"},
		{OpRecordFact, "UFFFFAFAFFFFAF"},
		{OpApproveFact, "UFFFFFFAFFFFFF"},
		{OpRetractFact, "UFFFFFFAFFFFFF"},
		{OpDraftRuleset, "UFFFFFFAFFFFFF"},
		{OpApproveRuleset, "UFFFFFFAFFFFFF"},
		{OpFileAppeal, "UAFAFFFFFFFFFF"},
		{OpReadAppeal, "UAFAFFFAFFFFFF"},
		{OpDecideAppeal, "UFFFFFFAFFFFFF"},
		{OpReadAccessLog, "UAFFFFFFFFFFFF"},
		{OpReadAlerts, "UFFFFFFFFFFAFA"},
		{OpManageAccounts, "UFFFFFFFFAAFFA"},
		{OpManageKeys, "UFFFFFFFFAAFFA"},
		{OpErasePersonal, "UFFFFFFFFAAFFA"},
	}
	for _, row := range table {
		if len(row.want) != len(actors) {
			t.Fatalf("%s: %d letters for %d actors", row.op, len(row.want), len(actors))
		}
		for i, x := range actors {
			var got byte = 'A'
			switch ErrorCode(Authorize(x.a, row.op, home, "r_1")) {
			case EFORBIDDEN:
				got = 'F'
			case EUNAUTH:
				got = 'U'
			case "":
			default:
				got = '?'
			}
			if got != row.want[i] {
				t.Errorf("%s by %s: %c, want %c", row.op, x.name, got, row.want[i])
			}
		}
	}
}
